using static TorchSharp.torch;

namespace AttnKit.Attention;

/// <summary>
/// The result of an attention call: the output (B, Hq, Nq, Dv) in the queries' dtype and, when asked for, the
/// attention weights (B, Hq, Nq, Nk) and the per-query log-sum-exp (B, Hq, Nq), both float32. Disposing it
/// disposes all three.
/// </summary>
public sealed class AttentionResult : IDisposable
{
    /// <summary>The attention output.</summary>
    public Tensor Output { get; }
    /// <summary>The attention weights, when asked for (rows sum to 1; a query with no allowed key has a row of zeros).</summary>
    public Tensor? Weights { get; }
    /// <summary>log Σ_j exp(s_ij) over allowed keys, when asked for; −∞ where a query has no allowed key.</summary>
    public Tensor? LogSumExp { get; }

    /// <summary>Wraps the tensors.</summary>
    public AttentionResult(Tensor output, Tensor? weights = null, Tensor? logSumExp = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        (Output, Weights, LogSumExp) = (output, weights, logSumExp);
    }

    /// <summary>Moves every tensor to the enclosing dispose scope (TorchSharp's MoveToOuterDisposeScope).</summary>
    public AttentionResult MoveToOuterDisposeScope()
    {
        Output.MoveToOuterDisposeScope();
        Weights?.MoveToOuterDisposeScope();
        LogSumExp?.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Output.Dispose();
        Weights?.Dispose();
        LogSumExp?.Dispose();
    }
}
