using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Quantization;

/// <summary>
/// KIVI: Liu et al., "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache", 2024 (arXiv 2402.02750),
/// section 3 (algorithm 1) and the authors' code (jy-yuan/KIVI, models/llama_kivi.py). Keys have outlier channels, so
/// they are quantized per channel; values are quantized per token. Recent tokens stay in full precision.
/// 1. append the new tokens to the full-precision residuals of keys and of values;
/// 2. the update's attention reads the quantized tokens followed by the residuals (the new tokens exact);
/// 3. keys: once the key residual holds <see cref="Residual"/> = R tokens, all R are quantized at once, per channel,
///    each channel's statistics over a group of G = <see cref="Group"/> tokens (R a multiple of G); so between 0 and
///    R − 1 keys stay exact (a prefill of l tokens quantizes the first l − (l mod R));
/// 4. values: the value residual keeps exactly the last R tokens; each older token is quantized per token, its
///    channels in groups of G (a head narrower than G is one group);
/// at <see cref="Bits"/> bits. Defaults are the paper's: 2 bits, G = 32, R = 128.
/// The cache keeps the dequantized tensors (what the paper's fused kernel computes on the fly); <see cref="StorageBytes"/>
/// counts what the packed codes, their float16 scales and minima, and the residuals take.
/// </summary>
public sealed class KiviCache : LayerCache
{
    private Tensor? qKeys, qValues, rKeys, rValues;   // dequantized (B, H, Lqk or Lqv, D); residuals (B, H, Lrk or Lrv, D)
    private long packedBytes;

    /// <summary>A KIVI cache at <paramref name="bits"/> (2, 4 or 8) bits, groups of <paramref name="group"/>, a residual of <paramref name="residual"/> tokens (a multiple of the group).</summary>
    public KiviCache(int bits = 2, int group = 32, int residual = 128)
    {
        if (bits is not (2 or 4 or 8)) throw new ArgumentException($"{nameof(bits)}: KIVI uses 2, 4 or 8 bits, got {bits}", nameof(bits));
        Check.Positive(group, nameof(group));
        Check.Positive(residual, nameof(residual));
        if (residual % group != 0)
            throw new ArgumentException($"{nameof(residual)}: KIVI quantizes the key residual in groups of {group} tokens, so it must be a multiple of {group}; got {residual}", nameof(residual));
        (Bits, Group, Residual) = (bits, group, residual);
    }

    /// <summary>Bits per code.</summary>
    public int Bits { get; }
    /// <summary>G: tokens per key group, channels per value group.</summary>
    public int Group { get; }
    /// <summary>R: the key residual's length at which it is quantized, and the value residual's length.</summary>
    public int Residual { get; }
    /// <summary>Keys held quantized.</summary>
    public long QuantizedKeys => qKeys?.shape[2] ?? 0;
    /// <summary>Values held quantized.</summary>
    public long QuantizedValues => qValues?.shape[2] ?? 0;

    /// <inheritdoc/>
    public override long Length => QuantizedKeys + (rKeys?.shape[2] ?? 0);

    /// <inheritdoc/>
    public override long StorageBytes => packedBytes + (rKeys is null ? 0 : rKeys.NumberOfElements * rKeys.ElementSize)
        + (rValues is null ? 0 : rValues.NumberOfElements * rValues.ElementSize);

    /// <inheritdoc/>
    public override CacheView Update(CacheUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        CacheChecks.Update(update, rKeys ?? qKeys, rValues ?? qValues);
        using var scope = torch.NewDisposeScope();
        long d = update.Values.shape[3], g = Math.Min(Group, d);
        if (d % g != 0) throw new ArgumentException($"update: KIVI groups a value's {d} channels by {Group}; the head dimension must be a multiple of it", nameof(update));
        Set(ref rKeys, rKeys is null ? update.Keys.clone() : torch.cat([rKeys, update.Keys], 2));                 // 1.
        Set(ref rValues, rValues is null ? update.Values.clone() : torch.cat([rValues, update.Values], 2));
        Seen += update.Keys.shape[2];
        var (rk, rv) = (rKeys!, rValues!);
        var keys = qKeys is null ? rk.alias() : torch.cat([qKeys, rk], 2);                                         // 2.
        var values = qValues is null ? rv.alias() : torch.cat([qValues, rv], 2);
        long lk = rk.shape[2] / Residual * Residual;                                                               // 3.
        if (lk > 0) Set(ref qKeys, Append(qKeys, Quantized(rk.narrow(2, 0, lk), 2, Group), ref rKeys, lk));
        long lv = rv.shape[2] - Residual;                                                                          // 4.
        if (lv > 0) Set(ref qValues, Append(qValues, Quantized(rv.narrow(2, 0, lv), 4, g), ref rValues, lv));
        return new CacheView(keys.MoveToOuterDisposeScope(), values.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// x (B, H, L, D) quantized and dequantized in groups of <paramref name="g"/> along axis <paramref name="axis"/> of
    /// the grouped view: 2 splits the tokens (per channel, over G tokens), 4 splits the channels (per token, over G channels).
    /// </summary>
    private Tensor Quantized(Tensor x, int axis, long g)
    {
        using var scope = torch.NewDisposeScope();
        long[] s = x.shape;
        var grouped = axis == 2 ? x.reshape(s[0], s[1], s[2] / g, g, s[3]) : x.reshape(s[0], s[1], s[2], s[3] / g, g);
        using var q = KvQuantizer.Quantize(grouped, Bits, axis == 2 ? 3 : 4);
        packedBytes += q.PackedBytes;
        return KvQuantizer.Dequantize(q).to(x.dtype).reshape(s).MoveToOuterDisposeScope();
    }

    /// <summary>The quantized tokens appended after <paramref name="held"/>; the first <paramref name="count"/> tokens leave the residual.</summary>
    private static Tensor Append(Tensor? held, Tensor quantized, ref Tensor? residual, long count)
    {
        Set(ref residual, residual!.narrow(2, count, residual.shape[2] - count).clone());
        return held is null ? quantized : torch.cat([held, quantized], 2);
    }

    private static void Set(ref Tensor? field, Tensor next)
    {
        var old = field;
        field = next.DetachFromDisposeScope();
        if (old is not null && !ReferenceEquals(old, field)) old.Dispose();
    }

    /// <inheritdoc/>
    public override void Reset()
    {
        qKeys?.Dispose(); qValues?.Dispose(); rKeys?.Dispose(); rValues?.Dispose();
        qKeys = qValues = rKeys = rValues = null;
        packedBytes = 0;
        Seen = 0;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Reset();
}
