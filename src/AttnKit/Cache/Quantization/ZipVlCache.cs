using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Quantization;

/// <summary>
/// ZipVL's importance-driven mixed precision: He et al., "ZipVL: Efficient Large Vision-Language Models with Dynamic
/// Token Sparsification and KV Cache Compression", 2024 (arXiv 2410.08584), section 3 (v1). The share of important
/// tokens is not fixed but read from each layer's attention: the smallest set of tokens that gathers a fraction τ of
/// the attention is important; their keys and values are quantized with more bits, the rest with fewer.
/// 1. at prefill, the attention the last <see cref="ObservationWindow"/> prompt queries give each prompt token,
///    averaged over queries and over each KV head's query heads, normalised to sum to 1 per (row, KV head);
/// 2. important tokens: the fewest, taken in order of attention, whose attention sums to at least τ (a ratio per
///    layer and head that adapts to how concentrated the attention is);
/// 3. quantize the prompt's keys and values per token: <see cref="HighBits"/> for important tokens, <see cref="LowBits"/>
///    for the rest; generated tokens are kept in full precision here.
/// Like <see cref="KiviCache"/> it keeps dequantized values and counts the packed bytes in <see cref="StorageBytes"/>.
/// </summary>
public sealed class ZipVlCache : LayerCache
{
    private Tensor? keys, values;
    private long promptLength, packedBytes;

    /// <summary>ZipVL mixed precision with attention mass <paramref name="tau"/> for the important tokens.</summary>
    public ZipVlCache(double tau = 0.9, int highBits = 8, int lowBits = 2, int observationWindow = 8)
    {
        if (!(tau > 0 && tau <= 1)) throw new ArgumentException($"{nameof(tau)}: expected τ in (0, 1], got {tau}", nameof(tau));
        if (highBits < 1 || highBits > 8 || lowBits < 1 || lowBits > highBits)
            throw new ArgumentException($"{nameof(lowBits)}: expected 1 ≤ low ≤ high ≤ 8 bits, got {lowBits} and {highBits}", nameof(lowBits));
        Check.Positive(observationWindow, nameof(observationWindow));
        (Tau, HighBits, LowBits, ObservationWindow) = (tau, highBits, lowBits, observationWindow);
    }

    /// <summary>τ: attention mass of the important tokens.</summary>
    public double Tau { get; }
    /// <summary>Bits of important tokens.</summary>
    public int HighBits { get; }
    /// <summary>Bits of the others.</summary>
    public int LowBits { get; }
    /// <summary>Prompt queries whose attention ranks the tokens.</summary>
    public int ObservationWindow { get; }
    /// <summary>Fraction of prompt tokens found important at prefill (over rows and heads).</summary>
    public double ImportantRatio { get; private set; }

    /// <inheritdoc/>
    public override long Length => keys?.shape[2] ?? 0;

    /// <inheritdoc/>
    public override long StorageBytes => keys is null ? 0 :
        packedBytes + (Length - promptLength) * (keys.shape[0] * keys.shape[1] * (keys.shape[3] + values!.shape[3]) * keys.ElementSize);

    /// <summary>Step 2: the important tokens (B, H, L) of normalised attention <paramref name="attention"/> (B, H, L).</summary>
    public static Tensor Important(Tensor attention, double tau)
    {
        Check.Rank(attention, 3, nameof(attention), "(B, H, L)");
        using var scope = torch.NewDisposeScope();
        var (sorted, order) = attention.sort(-1, descending: true);
        var before = sorted.cumsum(-1) - sorted;                                                         // mass of the tokens ranked above
        var inSorted = before.lt(tau);                                                                   // keep until the mass reaches τ
        return torch.zeros_like(inSorted).scatter(-1, order, inSorted).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override CacheView Update(CacheUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        CacheChecks.Update(update, keys, values);
        using var scope = torch.NewDisposeScope();
        var (k, v) = (update.Keys, update.Values);
        if (keys is null)
        {
            if (update.Queries is null) throw new ArgumentException("update.Queries: ZipVL ranks prompt tokens by attention and needs the queries", nameof(update));
            long n = k.shape[2], w = Math.Min(ObservationWindow, n), hq = update.Queries.shape[1], hkv = k.shape[1];
            var q = update.Queries.narrow(2, n - w, w).to(ScalarType.Float32);
            var kk = k.to(ScalarType.Float32).repeat_interleave(hq / hkv, 1);
            var logits = torch.matmul(q, kk.transpose(2, 3)) / Math.Sqrt(q.shape[3]);                  // (B, Hq, w, n)
            var causal = torch.arange(n, device: k.device).view(1, n).le(update.Positions.narrow(0, n - w, w).view(w, 1) - update.Positions[0]);
            var a = logits.masked_fill(causal.logical_not(), float.NegativeInfinity).softmax(-1).mean([2]);            // 1. (B, Hq, n)
            a = a.view(a.shape[0], hkv, hq / hkv, n).mean([2]);
            a = a / a.sum(-1, true);
            var important = Important(a, Tau).unsqueeze(-1);                                             // 2. (B, Hkv, n, 1)
            ImportantRatio = important.to(ScalarType.Float32).mean().item<float>();
            using var kh = KvQuantizer.Quantize(k, HighBits, 3); using var kl = KvQuantizer.Quantize(k, LowBits, 3);   // 3. per token
            using var vh = KvQuantizer.Quantize(v, HighBits, 3); using var vl = KvQuantizer.Quantize(v, LowBits, 3);
            k = torch.where(important, KvQuantizer.Dequantize(kh), KvQuantizer.Dequantize(kl)).to(k.dtype);
            v = torch.where(important, KvQuantizer.Dequantize(vh), KvQuantizer.Dequantize(vl)).to(v.dtype);
            long elems = k.shape[0] * k.shape[1];
            double hi = ImportantRatio;
            packedBytes = (long)Math.Ceiling(elems * n * (k.shape[3] + v.shape[3]) * (hi * HighBits + (1 - hi) * LowBits) / 8.0) + 2L * 2 * 2 * elems * n;
            promptLength = n;
        }
        keys = Swap(keys, keys is null ? k.clone() : torch.cat([keys, k], 2));
        values = Swap(values, values is null ? v.clone() : torch.cat([values, v], 2));
        Seen += update.Keys.shape[2];
        return new CacheView(keys.alias().MoveToOuterDisposeScope(), values.alias().MoveToOuterDisposeScope());
    }

    private static Tensor Swap(Tensor? old, Tensor next)
    {
        next.DetachFromDisposeScope();
        old?.Dispose();
        return next;
    }

    /// <inheritdoc/>
    public override void Reset()
    {
        keys?.Dispose(); values?.Dispose();
        keys = values = null;
        promptLength = packedBytes = 0; Seen = 0; ImportantRatio = 0;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Reset();
}
