using AttnKit.Attention.Masks;
using AttnKit.Attention.ScoreMods;
using AttnKit.Core;

namespace AttnKit.Attention.Blockwise;

/// <summary>
/// What modifies a blockwise attention call, and the tile sizes. Scores are s = q·kᵀ·scale, then the score modifier,
/// then the mask (true = may attend), evaluated tile by tile on absolute positions: keys at 0..Nk−1, queries at
/// <see cref="QueryOffset"/>..(+Nq−1), as in <see cref="AttentionOptions"/>.
/// </summary>
public sealed record BlockwiseOptions
{
    /// <summary>A mask function; null: every key is visible. Causal masks also let the tiled forms skip tiles wholly in the future.</summary>
    public AttentionMask? Mask { get; init; }

    /// <summary>A score modifier (soft-capping, ALiBi ...), applied per tile; null: none.</summary>
    public ScoreModifier? ScoreMod { get; init; }

    /// <summary>The scale of q·kᵀ; 1/√D when null.</summary>
    public double? Scale { get; init; }

    /// <summary>Absolute position of the first query; Nk − Nq when null (the queries are the last tokens).</summary>
    public long? QueryOffset { get; init; }

    /// <summary>Queries per tile (B_r in FlashAttention, the query chunk in Rabe &amp; Staats).</summary>
    public long QueryBlock { get; init; } = 64;

    /// <summary>Keys per tile (B_c in FlashAttention, the key chunk in Rabe &amp; Staats).</summary>
    public long KeyBlock { get; init; } = 64;

    /// <summary>
    /// FlashAttention-4's conditional rescaling: keep the running maximum until a new row maximum exceeds it by more
    /// than this many nats (natural-log units); null, the default: rescale whenever the maximum grows, as FlashAttention-2's
    /// loop (the one these forms follow) does. FlashAttention-4's own threshold is <see cref="FlashAttention4Threshold"/>.
    /// </summary>
    public double? RescaleThreshold { get; init; }

    /// <summary>
    /// FlashAttention-4's rescaling threshold: 8 in the log2 units its kernel computes in (exp2), so a kept maximum lets
    /// the exponentials grow to at most 2⁸ = 256; in nats, 8·ln 2 ≈ 5.55.
    /// </summary>
    public static readonly double FlashAttention4Threshold = 8 * Math.Log(2);

    /// <summary>No mask, with FlashAttention-4's conditional rescaling at its own threshold.</summary>
    public static BlockwiseOptions FlashAttention4 => new() { RescaleThreshold = FlashAttention4Threshold };

    /// <summary>
    /// Compute each tile with libtorch's fused kernel and its log-sum-exp (<see cref="FusedTile"/>) instead of per-tile
    /// TorchSharp calls: the same algorithm at kernel speed, for no mask or a causal one without a score modifier. Use
    /// large tiles (hundreds to thousands of tokens): each tile is one kernel call. Forward only, except through
    /// <see cref="FlashAttention.Apply"/>, whose recomputing backward needs only the output and log-sum-exp. Inside a
    /// tile the kernel runs its own online softmax, so <see cref="RescaleThreshold"/> does not apply and the result's
    /// row-update and rescale counts are 0; the tile counts are the tiling's.
    /// </summary>
    public bool FusedTiles { get; init; }

    /// <summary>
    /// Ring attention: synchronize the devices after every ring step so that <see cref="Parallel.RingAttentionResult.StepMilliseconds"/>
    /// times each step (default true). False lets the steps run back to back, as a real ring overlaps them; the step
    /// times are then NaN. Benchmarks of the whole pass use false.
    /// </summary>
    public bool SynchronizeSteps { get; init; } = true;

    /// <summary>No mask, default scale, 64 × 64 tiles.</summary>
    public static BlockwiseOptions None { get; } = new();

    /// <summary>A causal mask, 64 × 64 tiles.</summary>
    public static BlockwiseOptions Causal { get; } = new() { Mask = Masks.Masks.Causal };

    /// <summary>The same options as a dense call would take (for the reference).</summary>
    public AttentionOptions ToAttentionOptions() => new() { Mask = Mask, ScoreMod = ScoreMod, Scale = Scale, QueryOffset = QueryOffset };

    internal void Validate()
    {
        Check.Positive(QueryBlock, "options.QueryBlock");
        Check.Positive(KeyBlock, "options.KeyBlock");
        if (Scale is double s) Check.PositiveFinite(s, "options.Scale");
        if (QueryOffset is long o) Check.NonNegative(o, "options.QueryOffset");
        if (RescaleThreshold is double t && (!double.IsFinite(t) || t < 0))
            throw new ArgumentException($"options.RescaleThreshold: expected a finite number of nats ≥ 0, got {t}", "options");
    }
}
