using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.ScoreMods;

/// <summary>
/// A score modifier as in PyTorch's FlexAttention <c>score_mod</c>: (score, batch, head, queryIndex, keyIndex) → score,
/// applied to the scaled scores q·kᵀ·scale (plus any additive bias) before masking and softmax. It is evaluated on
/// the whole score tensor (B, H, Nq, Nk) with broadcast index tensors batch (B, 1, 1, 1), head (1, H, 1, 1),
/// query (1, 1, Nq, 1) and key (1, 1, 1, Nk) holding absolute positions, and returns a tensor of the score's shape.
/// </summary>
public delegate Tensor ScoreFunction(Tensor score, Tensor batch, Tensor head, Tensor query, Tensor key);

/// <summary>A named, composable <see cref="ScoreFunction"/>.</summary>
public sealed class ScoreModifier
{
    /// <summary>A readable name.</summary>
    public string Name { get; }
    /// <summary>The function.</summary>
    public ScoreFunction Function { get; }

    /// <summary>Makes a modifier from a function.</summary>
    public ScoreModifier(string name, ScoreFunction function)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(function);
        (Name, Function) = (name, function);
    }

    /// <summary>This modifier, then <paramref name="next"/> on its result.</summary>
    public ScoreModifier Then(ScoreModifier next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return new($"{Name} → {next.Name}", (s, b, h, q, k) => next.Function(Function(s, b, h, q, k), b, h, q, k));
    }

    /// <summary>
    /// Applies the modifier to scores (B, H, Nq, Nk) whose first query sits at absolute position
    /// <paramref name="queryOffset"/> (Nk - Nq when null, as for masks).
    /// </summary>
    public Tensor Apply(Tensor scores, long? queryOffset = null)
    {
        Check.Rank(scores, 4, nameof(scores), "(B, H, Nq, Nk)");
        Check.FloatingPoint(scores, nameof(scores));
        var (batch, heads, queries, keys) = (scores.shape[0], scores.shape[1], scores.shape[2], scores.shape[3]);
        long offset = queryOffset ?? keys - queries;
        if (offset < 0) throw new ArgumentException($"{nameof(queryOffset)}: expected zero or more, got {offset}", nameof(queryOffset));
        using var scope = torch.NewDisposeScope();
        var dev = scores.device;
        var b = torch.arange(batch, ScalarType.Int64, dev).view(batch, 1, 1, 1);
        var h = torch.arange(heads, ScalarType.Int64, dev).view(1, heads, 1, 1);
        var q = torch.arange(offset, offset + queries, 1, ScalarType.Int64, dev).view(1, 1, queries, 1);
        var k = torch.arange(keys, ScalarType.Int64, dev).view(1, 1, 1, keys);
        var result = Function(scores, b, h, q, k);
        if (result is null || !torch.is_floating_point(result))
            throw new ArgumentException($"score modifier '{Name}': expected a floating-point tensor, got {(result is null ? "null" : result.dtype.ToString())}");
        Check.BroadcastsTo(result, scores.shape, $"score modifier '{Name}'", "(B, H, Nq, Nk)");
        return result.expand(scores.shape).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
