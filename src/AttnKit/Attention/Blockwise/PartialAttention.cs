using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Blockwise;

/// <summary>
/// Attention of some queries over one part of the keys: the output normalized over that part, and the log-sum-exp
/// of the part's scores. Two parts of one key set merge exactly (<see cref="LogSumExpMerge"/>), which is what
/// blockwise, ring, tree and split-KV attention rest on. Output (B, H, Nq, Dv) float32; LogSumExp (B, H, Nq)
/// float32, −∞ for a query that may see no key of the part (its output row is then zeros). Disposing it disposes both.
/// </summary>
public sealed class PartialAttention : IDisposable
{
    /// <summary>softmax over the part's keys, times their values: (B, H, Nq, Dv), float32.</summary>
    public Tensor Output { get; }

    /// <summary>log Σ exp(s) over the part's allowed keys: (B, H, Nq), float32; −∞ where none is allowed.</summary>
    public Tensor LogSumExp { get; }

    /// <summary>Wraps an output and its log-sum-exp; checks that they fit together.</summary>
    public PartialAttention(Tensor output, Tensor logSumExp)
    {
        Check.Rank(output, 4, nameof(output), "(B, H, Nq, Dv)");
        Check.Rank(logSumExp, 3, nameof(logSumExp), "(B, H, Nq)");
        Check.SameDevice(output, nameof(output), logSumExp, nameof(logSumExp));
        long[] o = output.shape, l = logSumExp.shape;
        for (int i = 0; i < 3; i++)
            if (o[i] != l[i]) throw new ArgumentException($"{nameof(logSumExp)}: expected shape ({o[0]}, {o[1]}, {o[2]}) to match the output ({string.Join(", ", o)}), got ({string.Join(", ", l)})", nameof(logSumExp));
        (Output, LogSumExp) = (output, logSumExp);
    }

    /// <summary>A partial attention with nothing in it yet: output zeros, log-sum-exp −∞ (the identity of the merge).</summary>
    public static PartialAttention Empty(long batch, long heads, long queries, long valueDim, Device device) =>
        new(torch.zeros([batch, heads, queries, valueDim], ScalarType.Float32, device),
            torch.full([batch, heads, queries], double.NegativeInfinity, ScalarType.Float32, device));

    /// <summary>Moves both tensors to the enclosing dispose scope.</summary>
    public PartialAttention MoveToOuterDisposeScope()
    {
        Output.MoveToOuterDisposeScope();
        LogSumExp.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Output.Dispose();
        LogSumExp.Dispose();
    }
}
