using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// What an attention-pooling head returns: the pooled vector(s) and the weights each learned query gave the tokens
/// (B, H or M, queries, N), float32. Disposing it disposes both.
/// </summary>
public sealed class PoolingResult : IDisposable
{
    /// <summary>The pooled representation; its shape is given by each head.</summary>
    public Tensor Pooled { get; }
    /// <summary>The attention weights over the pooled tokens; each row sums to 1 over the allowed tokens.</summary>
    public Tensor Weights { get; }

    /// <summary>Wraps the tensors.</summary>
    public PoolingResult(Tensor pooled, Tensor weights)
    {
        ArgumentNullException.ThrowIfNull(pooled);
        ArgumentNullException.ThrowIfNull(weights);
        (Pooled, Weights) = (pooled, weights);
    }

    /// <summary>Moves both tensors to the enclosing dispose scope.</summary>
    public PoolingResult MoveToOuterDisposeScope()
    {
        Pooled.MoveToOuterDisposeScope();
        Weights.MoveToOuterDisposeScope();
        return this;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Pooled.Dispose();
        Weights.Dispose();
    }

    /// <summary>Checks a (B, N, D) token tensor and an optional (B, N) boolean mask (true = a real token) against a head's parameters.</summary>
    internal static void CheckTokens(Tensor tokens, Tensor? allowed, long width, Tensor parameter, string layout = "(B, N, D)")
    {
        Core.Check.Rank(tokens, 3, nameof(tokens), layout);
        Core.Check.FloatingPoint(tokens, nameof(tokens));
        Core.Check.Dim(tokens, 2, width, nameof(tokens), "width D of the head");
        if (tokens.device_type != parameter.device_type || tokens.device_index != parameter.device_index)
            throw new ArgumentException($"{nameof(tokens)}: expected a tensor on {parameter.device} like the head's parameters, got one on {tokens.device}", nameof(tokens));
        if (tokens.dtype != parameter.dtype) throw new ArgumentException($"{nameof(tokens)}: expected dtype {parameter.dtype} like the head's parameters, got {tokens.dtype}", nameof(tokens));
        if (allowed is null) return;
        Core.Check.Rank(allowed, 2, nameof(allowed), "(B, N), true = a real token");
        Core.Check.Bool(allowed, nameof(allowed));
        Core.Check.SameDevice(tokens, nameof(tokens), allowed, nameof(allowed));
        Core.Check.Dim(allowed, 0, tokens.shape[0], nameof(allowed), "batch B like the tokens");
        Core.Check.Dim(allowed, 1, tokens.shape[1], nameof(allowed), "tokens N like the tokens");
    }
}
