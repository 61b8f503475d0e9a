using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Quantization;

/// <summary>Integer codes of a tensor with the scale and minimum of each group (asymmetric uniform quantization).</summary>
/// <param name="Codes">Codes 0 … 2^bits − 1, uint8, the shape of the input.</param>
/// <param name="Scale">(max − min)/(2^bits − 1) per group, float32, size 1 along the reduced axis.</param>
/// <param name="Min">The group minimum, float32, like <paramref name="Scale"/>.</param>
/// <param name="Bits">Bits per code.</param>
public sealed record QuantizedTensor(Tensor Codes, Tensor Scale, Tensor Min, int Bits) : IDisposable
{
    /// <summary>Bytes of the packed codes (bits per element) plus a float16 scale and minimum per group.</summary>
    public long PackedBytes => (Codes.NumberOfElements * Bits + 7) / 8 + 2L * 2 * Scale.NumberOfElements;

    /// <inheritdoc/>
    public void Dispose() { Codes.Dispose(); Scale.Dispose(); Min.Dispose(); }
}

/// <summary>
/// Asymmetric uniform quantization, the building block of KV quantization (KIVI, ZipVL): a group shares a minimum m
/// and a step s = (max − m)/(2^b − 1).
/// 1. code = round((x − m)/s), clamped to 0 … 2^b − 1;
/// 2. x̂ = code·s + m; the error |x − x̂| is at most s/2.
/// </summary>
public static class KvQuantizer
{
    /// <summary>Quantizes <paramref name="x"/> to <paramref name="bits"/> (1 … 8) with one group per slice along <paramref name="dim"/> (the statistics reduce over it).</summary>
    public static QuantizedTensor Quantize(Tensor x, int bits, int dim)
    {
        Check.FloatingPoint(x, nameof(x));
        if (bits < 1 || bits > 8) throw new ArgumentException($"{nameof(bits)}: expected 1 … 8 bits, got {bits}", nameof(bits));
        if (dim < -x.dim() || dim >= x.dim()) throw new ArgumentException($"{nameof(dim)}: expected an axis of the {x.dim()}-d input, got {dim}", nameof(dim));
        using var scope = torch.NewDisposeScope();
        var xf = x.to(ScalarType.Float32);
        var min = xf.amin([dim], true);
        var scale = ((xf.amax([dim], true) - min) / ((1 << bits) - 1)).clamp_min(1e-12);
        var codes = ((xf - min) / scale).round().clamp(0, (1 << bits) - 1).to(ScalarType.Byte);       // 1.
        return new QuantizedTensor(codes.MoveToOuterDisposeScope(), scale.MoveToOuterDisposeScope(), min.MoveToOuterDisposeScope(), bits);
    }

    /// <summary>x̂ = code·scale + min (step 2), float32.</summary>
    public static Tensor Dequantize(QuantizedTensor q)
    {
        ArgumentNullException.ThrowIfNull(q);
        using var scope = torch.NewDisposeScope();
        return (q.Codes.to(ScalarType.Float32) * q.Scale + q.Min).MoveToOuterDisposeScope();            // 2.
    }

    /// <summary>Quantize then dequantize, in <paramref name="x"/>'s dtype.</summary>
    public static Tensor RoundTrip(Tensor x, int bits, int dim)
    {
        using var scope = torch.NewDisposeScope();
        using var q = Quantize(x, bits, dim);
        return Dequantize(q).to(x.dtype).MoveToOuterDisposeScope();
    }
}
