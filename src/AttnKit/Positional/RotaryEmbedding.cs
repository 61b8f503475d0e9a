using System.Numerics;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Positional;

/// <summary>
/// Rotary position embedding. Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding", 2021
/// (arXiv 2104.09864), section 3.4. Each pair of channels of a query or key is rotated by an angle proportional to the
/// token's position, so that q_m·k_n depends on m − n only. The channel pairing is the "rotate half" form of the
/// Hugging Face Llama implementation (channel i pairs with channel i + D/2), so that Llama-family checkpoints load as
/// they are.
///
/// 1. inverse frequencies θ_i = base^(−2i/D), i = 0 … D/2 − 1 (eq. 15);
/// 2. angles m·θ_i for each position m, repeated over both halves: (N, D);
/// 3. x' = x·cos(mθ) + rotate_half(x)·sin(mθ), rotate_half(x) = (−x₂, x₁) for x = (x₁, x₂) (eq. 34 in this pairing).
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    /// <summary>How the frequencies are stretched for longer contexts (null: plain RoPE).</summary>
    public RopeScaling? Scaling { get; }

    /// <summary>Rotated channels per head (the head dim, or fewer for partial rotary).</summary>
    public int Dim { get; }
    /// <summary>The base of the frequencies (10 000 in RoFormer; often 500 000 or 1 000 000 in recent models).</summary>
    public double Base { get; }

    /// <summary>A rotary embedding over <paramref name="dim"/> channels (even).</summary>
    public RotaryEmbedding(int dim, double @base = 10000.0, RopeScaling? scaling = null)
    {
        scaling?.Validate();
        Scaling = scaling;
        Check.Positive(dim, nameof(dim));
        if (dim % 2 != 0) throw new ArgumentException($"{nameof(dim)}: rotary channels come in pairs, expected an even number, got {dim}", nameof(dim));
        Check.PositiveFinite(@base, nameof(@base));
        (Dim, Base) = (dim, @base);
    }

    /// <summary>cos and sin of the angles for <paramref name="positions"/> (any shape P of int64): (P…, D) each, float32.</summary>
    public (Tensor Cos, Tensor Sin) Angles(Tensor positions)
    {
        Check.NotNull(positions, nameof(positions));
        if (positions.dtype != ScalarType.Int64 && positions.dtype != ScalarType.Int32)
            throw new ArgumentException($"{nameof(positions)}: expected integer positions, got {positions.dtype}", nameof(positions));
        using var scope = torch.NewDisposeScope();
        var i = torch.arange(0, Dim, 2, ScalarType.Float64, positions.device);
        var invFreq = torch.pow(Base, -i / Dim);                                              // 1. (D/2)
        if (Scaling is not null) invFreq = Scaling.Apply(invFreq);
        var angles = positions.to(ScalarType.Float64).unsqueeze(-1) * invFreq;                // 2. (P…, D/2)
        angles = torch.cat([angles, angles], -1);                                             //    (P…, D)
        return (angles.cos().to(ScalarType.Float32).MoveToOuterDisposeScope(), angles.sin().to(ScalarType.Float32).MoveToOuterDisposeScope());
    }

    private readonly Dictionary<(DeviceType, int), (Tensor Cos, Tensor Sin)> tables = [];
    private readonly Lock tableLock = new();

    /// <summary>
    /// Rotates <paramref name="x"/> (B, H, N, Dh) at the consecutive positions <paramref name="start"/> …
    /// start + N − 1, reading cos and sin from a table kept per device (grown by doubling), so that a decoding step does
    /// not recompute them. Equals <see cref="Apply(Tensor, Tensor)"/> at those positions.
    /// </summary>
    public Tensor ApplyFrom(Tensor x, long start)
    {
        Check.Rank(x, 4, nameof(x), "(B, H, N, D)");
        Check.FloatingPoint(x, nameof(x));
        Check.NonNegative(start, nameof(start));
        long[] xs = x.shape;
        if (xs[3] < Dim) throw new ArgumentException($"{nameof(x)}: expected at least {Dim} channels to rotate, got {xs[3]}", nameof(x));
        using var scope = torch.NewDisposeScope();
        var (cosTable, sinTable) = Table(x.device, start + xs[2]);
        return Rotate(x, cosTable.narrow(0, start, xs[2]), sinTable.narrow(0, start, xs[2])).MoveToOuterDisposeScope(); // (N, D)
    }

    /// <summary>
    /// Queries (B, Hq, N, D) and keys (B, Hkv, N, D) rotated at the consecutive positions start … start + N − 1, as
    /// <see cref="ApplyFrom(Tensor, long)"/> does each; when no gradient is recorded, in one fused call for both.
    /// </summary>
    public (Tensor Q, Tensor K) ApplyFrom(Tensor q, Tensor k, long start)
    {
        Check.Rank(q, 4, nameof(q), "(B, Hq, N, D)");
        Check.Rank(k, 4, nameof(k), "(B, Hkv, N, D)");
        long[] qs = q.shape, ks = k.shape;
        if (torch.is_grad_enabled() || qs[0] != ks[0] || qs[2] != ks[2] || qs[3] != ks[3] || q.dtype != k.dtype || TooFewChannels(qs))
            return (ApplyFrom(q, start), ApplyFrom(k, start));
        Check.FloatingPoint(q, nameof(q));
        Check.SameDevice(q, nameof(q), k, nameof(k));
        Check.NonNegative(start, nameof(start));
        using var scope = torch.NewDisposeScope();
        var (cosTable, sinTable) = Table(q.device, start + qs[2]);
        var pair = Attention.FusedKernels.RotaryQk(q, k, cosTable.narrow(0, start, qs[2]), sinTable.narrow(0, start, qs[2]), Dim);
        if (pair is not { } both) return (ApplyFrom(q, start).MoveToOuterDisposeScope(), ApplyFrom(k, start).MoveToOuterDisposeScope());
        both.Q.MoveToOuterDisposeScope();
        return (both.Q, both.K.MoveToOuterDisposeScope());
    }

    private bool TooFewChannels(long[] shape) => shape[3] < Dim;

    private readonly Dictionary<(DeviceType, int, long, long), Tensor> atPosition = [];

    /// <summary>
    /// Rotates every token of <paramref name="x"/> (B, H, N, Dh) at the one position <paramref name="position"/> (a
    /// re-positioned query, as StreamingLLM's sinks read it): step 3 written as one product with the rotation's
    /// (Dh × Dh) float32 matrix, kept per position (a few at a time), so a decoding step pays one matmul instead of the
    /// rotation's elementwise calls. Equals <see cref="ApplyFrom(Tensor, long)"/> with every token at that position,
    /// up to float32 rounding.
    /// </summary>
    public Tensor ApplyAt(Tensor x, long position)
    {
        Check.Rank(x, 4, nameof(x), "(B, H, N, D)");
        Check.FloatingPoint(x, nameof(x));
        Check.NonNegative(position, nameof(position));
        long dh = x.shape[3];
        if (dh < Dim) throw new ArgumentException($"{nameof(x)}: expected at least {Dim} channels to rotate, got {dh}", nameof(x));
        Tensor m;
        lock (tableLock)
        {
            var key = (x.device_type, x.device_index, position, dh);
            if (!atPosition.TryGetValue(key, out m!))
            {
                if (atPosition.Count >= 4) { foreach (var old in atPosition.Values) old.Dispose(); atPosition.Clear(); }
                using var scope = torch.NewDisposeScope();
                var (cos, sin) = Angles(torch.tensor(new[] { position }, ScalarType.Int64, CPU));   // (1, D)
                float[] c = cos.data<float>().ToArray(), sn = sin.data<float>().ToArray();
                var a = new float[dh * dh];                                                  // y = x·M: M[j, j] = cos, M[j + h, j] = −sin, M[j − h, j] = sin
                int half = Dim / 2;
                for (int j = 0; j < dh; j++)
                {
                    if (j >= Dim) { a[j * dh + j] = 1; continue; }
                    a[j * dh + j] = c[j];
                    if (j < half) a[(j + half) * dh + j] = -sn[j];
                    else a[(j - half) * dh + j] = sn[j];
                }
                m = torch.tensor(a, [dh, dh], ScalarType.Float32).to(x.device).DetachFromDisposeScope();
                atPosition[key] = m;
            }
        }
        using var s2 = torch.NewDisposeScope();
        return torch.matmul(x.to(ScalarType.Float32), m).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Frees the cos/sin tables (they are rebuilt if the embedding is used again).</summary>
    public void Dispose()
    {
        lock (tableLock)
        {
            foreach (var (cos, sin) in tables.Values) { cos.Dispose(); sin.Dispose(); }
            tables.Clear();
            foreach (var m in atPosition.Values) m.Dispose();
            atPosition.Clear();
        }
    }

    private (Tensor Cos, Tensor Sin) Table(Device device, long needed)
    {
        lock (tableLock)
        {
            var key = (device.type, device.index);
            if (tables.TryGetValue(key, out var t) && t.Cos.shape[0] >= needed) return t;
            long size = Math.Max(256, (long)BitOperations.RoundUpToPowerOf2((ulong)needed));
            using var scope = torch.NewDisposeScope();
            var (cos, sin) = Angles(torch.arange(size, ScalarType.Int64, device));      // 1–2. (size, D)
            if (t.Cos is not null) { t.Cos.Dispose(); t.Sin.Dispose(); }
            var table = (cos.DetachFromDisposeScope(), sin.DetachFromDisposeScope());
            tables[key] = table;
            return table;
        }
    }

    /// <summary>
    /// Rotates <paramref name="x"/> (B, H, N, Dh) at <paramref name="positions"/>: (N) shared by every row, or (B, H, N)
    /// or (B, 1, N) per row. The first <see cref="Dim"/> channels rotate (partial rotary leaves the rest). Keeps x's dtype.
    /// </summary>
    public Tensor Apply(Tensor x, Tensor positions)
    {
        Check.Rank(x, 4, nameof(x), "(B, H, N, D)");
        Check.FloatingPoint(x, nameof(x));
        Check.SameDevice(x, nameof(x), positions, nameof(positions));
        long[] xs = x.shape, ps = positions.shape;
        if (xs[3] < Dim) throw new ArgumentException($"{nameof(x)}: expected at least {Dim} channels to rotate, got {xs[3]}", nameof(x));
        bool shared = ps.Length == 1 && ps[0] == xs[2];
        bool perRow = ps.Length == 3 && ps[2] == xs[2] && (ps[0] == xs[0] || ps[0] == 1) && (ps[1] == xs[1] || ps[1] == 1);
        if (!shared && !perRow)
            throw new ArgumentException($"{nameof(positions)}: expected (N) = ({xs[2]}) or (B, H|1, N), got {Check.Shape(positions)} for x {Check.Shape(x)}", nameof(positions));
        using var scope = torch.NewDisposeScope();
        var (cos, sin) = Angles(positions);                                                   // (N, D) or (B, H, N, D)
        return Rotate(x, cos, sin).MoveToOuterDisposeScope();
    }

    private Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        if (!torch.is_grad_enabled() && Attention.FusedKernels.Rotary(x, cos, sin, Dim) is Tensor fused) return fused; // decoding: one call, the same operations
        long[] xs = x.shape;
        var xr = Dim == xs[3] ? x : x.narrow(3, 0, Dim);
        var xf = xr.to(ScalarType.Float32);
        var half = Dim / 2;
        var rotated = torch.cat([-xf.narrow(3, half, half), xf.narrow(3, 0, half)], 3);      // 3. rotate_half
        var y = (xf * cos + rotated * sin).to(x.dtype);                                       // 3.
        if (Dim != xs[3]) y = torch.cat([y, x.narrow(3, Dim, xs[3] - Dim)], 3);
        return y;
    }
}

/// <summary>
/// A stretch of RoPE's frequencies for contexts longer than the model was trained on, as Hugging Face configs name
/// them (<c>rope_scaling</c>).
/// </summary>
public abstract record RopeScaling
{
    /// <summary>The scaled inverse frequencies for θ (D/2), float64.</summary>
    public abstract Tensor Apply(Tensor inverseFrequencies);

    /// <summary>Checks the parameters.</summary>
    public abstract void Validate();
}

/// <summary>
/// Position interpolation: every frequency divided by the factor. Chen et al., "Extending Context Window of Large
/// Language Models via Positional Interpolation", 2023 (arXiv 2306.15595), eq. (4).
/// </summary>
/// <param name="Factor">The stretch s ≥ 1: position m is rotated as m/s.</param>
public sealed record LinearRopeScaling(double Factor) : RopeScaling
{
    /// <inheritdoc/>
    public override Tensor Apply(Tensor inverseFrequencies) => inverseFrequencies / Factor;

    /// <inheritdoc/>
    public override void Validate()
    {
        if (!(Factor >= 1) || double.IsInfinity(Factor)) throw new ArgumentException($"{nameof(Factor)}: expected a finite stretch of at least 1, got {Factor}", nameof(Factor));
    }
}

/// <summary>
/// Llama 3.1's frequency-dependent scaling (Meta, "The Llama 3 Herd of Models", 2024, arXiv 2407.21783; the
/// <c>rope_type: "llama3"</c> of Hugging Face configs). With wavelength λ = 2π/θ, L the original context,
/// λ_hi = L / highFreqFactor and λ_lo = L / lowFreqFactor:
/// 1. short wavelengths (λ &lt; λ_hi) keep θ;
/// 2. long wavelengths (λ &gt; λ_lo) become θ / factor;
/// 3. in between, θ' = (1 − t)·θ/factor + t·θ with t = (L/λ − lowFreqFactor) / (highFreqFactor − lowFreqFactor).
/// </summary>
public sealed record Llama3RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalContext) : RopeScaling
{
    /// <inheritdoc/>
    public override Tensor Apply(Tensor inverseFrequencies)
    {
        using var scope = torch.NewDisposeScope();
        var wavelength = 2 * Math.PI / inverseFrequencies;
        var t = (OriginalContext / wavelength - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
        var mixed = (1 - t) * inverseFrequencies / Factor + t * inverseFrequencies;            // 3.
        var scaled = torch.where(wavelength.lt(OriginalContext / HighFreqFactor), inverseFrequencies,  // 1.
            torch.where(wavelength.gt(OriginalContext / LowFreqFactor), inverseFrequencies / Factor, mixed)); // 2.
        return scaled.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override void Validate()
    {
        if (!(Factor >= 1) || double.IsInfinity(Factor)) throw new ArgumentException($"{nameof(Factor)}: expected a finite stretch of at least 1, got {Factor}", nameof(Factor));
        Check.PositiveFinite(LowFreqFactor, nameof(LowFreqFactor));
        Check.PositiveFinite(HighFreqFactor, nameof(HighFreqFactor));
        if (HighFreqFactor <= LowFreqFactor) throw new ArgumentException($"{nameof(HighFreqFactor)}: expected more than {nameof(LowFreqFactor)} {LowFreqFactor}, got {HighFreqFactor}", nameof(HighFreqFactor));
        Check.Positive(OriginalContext, nameof(OriginalContext));
    }
}
