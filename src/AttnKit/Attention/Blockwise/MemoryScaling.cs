using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Blockwise;

/// <summary>One row of <see cref="MemoryScaling.Measure"/>: peak bytes of tensors each form held beyond its inputs, at one N.</summary>
/// <param name="Tokens">N (queries = keys).</param>
/// <param name="Reference">The dense reference's forward pass.</param>
/// <param name="MemoryEfficient">Rabe &amp; Staats' chunked forward pass.</param>
/// <param name="FlashForward">The tiled forward pass.</param>
/// <param name="FlashBackward">The recomputing backward pass (given output, log-sum-exp and the output's gradient).</param>
public sealed record MemoryScalingRow(long Tokens, long Reference, long MemoryEfficient, long FlashForward, long FlashBackward);

/// <summary>
/// Peak memory against N, measured: each form runs under <see cref="TensorMemory.Measure"/>, which adds up the storages
/// of the tensors alive at the form's sample points (tracked allocation, not a formula; see <see cref="TensorMemory"/>
/// for what it does not see). Causal self-attention, B = 1, the given heads and head dim, float32.
/// </summary>
public static class MemoryScaling
{
    /// <summary>Measures every form at each N in <paramref name="tokens"/> on <paramref name="device"/> (the kit's device when null).</summary>
    public static IReadOnlyList<MemoryScalingRow> Measure(IReadOnlyList<long> tokens, long heads = 2, long headDim = 32, long block = 64, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count == 0) throw new ArgumentException($"{nameof(tokens)}: expected at least one N", nameof(tokens));
        foreach (var n in tokens) Check.Positive(n, nameof(tokens));
        Check.Positive(heads, nameof(heads));
        Check.Positive(headDim, nameof(headDim));
        Check.Positive(block, nameof(block));
        device ??= Kit.Device;
        var rows = new List<MemoryScalingRow>();
        var options = BlockwiseOptions.Causal with { QueryBlock = block, KeyBlock = block };
        foreach (var n in tokens)
        {
            using var scope = torch.NewDisposeScope();
            using var gen = new Generator(1234);
            Tensor R() => torch.randn([1, heads, n, headDim], ScalarType.Float32, torch.CPU, generator: gen).to(device);
            var (q, k, v) = (R(), R(), R());
            var fwd = FlashAttention.Forward(q, k, v, options);
            var g = torch.ones_like(fwd.Output);
            long reference = TensorMemory.Measure(() => ScaledDotProductAttention.Reference(q, k, v, AttentionOptions.Causal), q, k, v).PeakBytes;
            long chunked = TensorMemory.Measure(() => MemoryEfficientAttention.Compute(q, k, v, options), q, k, v).PeakBytes;
            long forward = TensorMemory.Measure(() => FlashAttention.Forward(q, k, v, options), q, k, v).PeakBytes;
            long backward = TensorMemory.Measure(() => FlashAttention.Backward(q, k, v, fwd.Output, fwd.LogSumExp, g, options), q, k, v, fwd.Output, fwd.LogSumExp, g).PeakBytes;
            rows.Add(new MemoryScalingRow(n, reference, chunked, forward, backward));
        }
        return rows;
    }
}
