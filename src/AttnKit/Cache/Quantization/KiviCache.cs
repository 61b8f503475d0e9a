using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Quantization;

/// <summary>
/// KIVI: Liu et al., "KIVI: A Tuning-Free Asymmetric 2bit Quantization for KV Cache", 2024 (arXiv 2402.02750),
/// section 3–4. Keys have outlier channels, so they are quantized per channel (a group of G tokens shares each
/// channel's scale); values are quantized per token. The most recent tokens stay in full precision until a whole group
/// has gathered, so the tokens attention needs most are exact.
/// 1. append new tokens to the full-precision residual;
/// 2. while the residual holds more than <see cref="Residual"/> + G tokens, quantize its oldest G: keys per channel
///    over those G tokens, values per token over their channels, at <see cref="Bits"/> bits;
/// 3. attention reads the dequantized groups followed by the residual (tokens in order).
/// The cache keeps the dequantized values (what a fused kernel would compute on the fly); <see cref="StorageBytes"/>
/// counts what the packed codes, their float16 scales and minima, and the residual take.
/// </summary>
public sealed class KiviCache : LayerCache
{
    private Tensor? qKeys, qValues, rKeys, rValues;   // dequantized groups (B, H, Lq, D); residual (B, H, Lr, D)
    private long packedBytes;

    /// <summary>A KIVI cache at <paramref name="bits"/> (2, 4 or 8) bits, groups of <paramref name="group"/> tokens, <paramref name="residual"/> recent tokens in full precision.</summary>
    public KiviCache(int bits = 2, int group = 32, int residual = 32)
    {
        if (bits is not (2 or 4 or 8)) throw new ArgumentException($"{nameof(bits)}: KIVI uses 2, 4 or 8 bits, got {bits}", nameof(bits));
        Check.Positive(group, nameof(group));
        Check.NonNegative(residual, nameof(residual));
        (Bits, Group, Residual) = (bits, group, residual);
    }

    /// <summary>Bits per code.</summary>
    public int Bits { get; }
    /// <summary>Tokens per key group G.</summary>
    public int Group { get; }
    /// <summary>Recent tokens kept in full precision at least.</summary>
    public int Residual { get; }
    /// <summary>Tokens held quantized.</summary>
    public long QuantizedLength => qKeys?.shape[2] ?? 0;

    /// <inheritdoc/>
    public override long Length => QuantizedLength + (rKeys?.shape[2] ?? 0);

    /// <inheritdoc/>
    public override long StorageBytes => packedBytes + (rKeys is null ? 0 : rKeys.NumberOfElements * rKeys.ElementSize + rValues!.NumberOfElements * rValues.ElementSize);

    /// <inheritdoc/>
    public override CacheView Update(CacheUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        CacheChecks.Update(update, rKeys ?? qKeys, rValues ?? qValues);
        using var scope = torch.NewDisposeScope();
        Set(ref rKeys, rKeys is null ? update.Keys.clone() : torch.cat([rKeys, update.Keys], 2));                 // 1.
        Set(ref rValues, rValues is null ? update.Values.clone() : torch.cat([rValues, update.Values], 2));
        while (rKeys!.shape[2] > Residual + Group)                                                                 // 2.
        {
            var k = rKeys.narrow(2, 0, Group);
            var v = rValues!.narrow(2, 0, Group);
            using var qk = KvQuantizer.Quantize(k, Bits, 2);                                                      //    per channel: reduce over the G tokens
            using var qv = KvQuantizer.Quantize(v, Bits, 3);                                                      //    per token: reduce over channels
            packedBytes += qk.PackedBytes + qv.PackedBytes;
            var dk = KvQuantizer.Dequantize(qk).to(k.dtype);
            var dv = KvQuantizer.Dequantize(qv).to(v.dtype);
            Set(ref qKeys, qKeys is null ? dk : torch.cat([qKeys, dk], 2));
            Set(ref qValues, qValues is null ? dv : torch.cat([qValues, dv], 2));
            Set(ref rKeys, rKeys.narrow(2, Group, rKeys.shape[2] - Group).clone());
            Set(ref rValues, rValues.narrow(2, Group, rValues.shape[2] - Group).clone());
        }
        Seen += update.Keys.shape[2];
        var keys = qKeys is null ? rKeys.alias() : torch.cat([qKeys, rKeys], 2);                                   // 3.
        var values = qValues is null ? rValues!.alias() : torch.cat([qValues, rValues!], 2);
        return new CacheView(keys.MoveToOuterDisposeScope(), values.MoveToOuterDisposeScope());
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
