using AttnKit.Attention.Masks;
using AttnKit.Attention.ScoreMods;
using static TorchSharp.torch;

namespace AttnKit.Attention;

/// <summary>
/// What modifies an attention call. Scores are computed as s = q·kᵀ·scale + bias, then the score modifier,
/// then the masks (the function mask and the mask tensor, both true = may attend), then softmax over keys.
/// </summary>
public sealed record AttentionOptions
{
    /// <summary>A mask function (see <see cref="Masks"/>); null: no mask.</summary>
    public AttentionMask? Mask { get; init; }

    /// <summary>A boolean mask tensor that broadcasts to (B, Hq, Nq, Nk), true = may attend; combined with <see cref="Mask"/> by AND.</summary>
    public Tensor? MaskTensor { get; init; }

    /// <summary>An additive float bias that broadcasts to (B, Hq, Nq, Nk), added to the scaled scores.</summary>
    public Tensor? Bias { get; init; }

    /// <summary>A score modifier (ALiBi, soft-capping, a learned bias ...); forces the reference path.</summary>
    public ScoreModifier? ScoreMod { get; init; }

    /// <summary>The scale of q·kᵀ; 1/√D when null.</summary>
    public double? Scale { get; init; }

    /// <summary>Absolute position of the first query for masks and score modifiers; Nk − Nq when null (queries are the last tokens).</summary>
    public long? QueryOffset { get; init; }

    /// <summary>Also return the attention weights (B, Hq, Nq, Nk); forces the reference path.</summary>
    public bool ReturnWeights { get; init; }

    /// <summary>Also return the per-query log-sum-exp of the scores (B, Hq, Nq), −∞ for a query with no allowed key; forces the reference path.</summary>
    public bool ReturnLogSumExp { get; init; }

    /// <summary>No options.</summary>
    public static AttentionOptions None { get; } = new();

    /// <summary>Just a causal mask.</summary>
    public static AttentionOptions Causal { get; } = new() { Mask = Masks.Masks.Causal };
}
