using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// CAOTE: Goel et al., "CAOTE: KV Caching through Attention Output Error based Token Eviction", 2025 (arXiv 2504.14051),
/// section 3. Attention weights say how much a token is read, not how much the output would change without it; the
/// change also depends on its value. Removing token j from o = Σ α_i v_i and renormalising the rest gives
/// o′ = (o − α_j v_j)/(1 − α_j), so the eviction error is ‖o − o′‖ = α_j/(1 − α_j)·‖v_j − o‖ in closed form.
/// 1. α: the new queries' attention (or, as a meta-heuristic, a base scorer's scores normalised to sum to 1);
/// 2. o = Σ_j α_j v_j per query;
/// 3. score_j = α_j/(1 − α_j)·‖v_j − o‖, averaged over the new queries and the KV head's query heads.
/// </summary>
public sealed class Caote : TokenScorer
{
    private readonly TokenScorer? baseScorer;

    /// <summary>CAOTE on the attention of the current queries, or on <paramref name="baseScorer"/>'s scores (e.g. H2O's accumulated attention).</summary>
    public Caote(TokenScorer? baseScorer = null) => this.baseScorer = baseScorer;

    /// <inheritdoc/>
    public override string Name => baseScorer is null ? "CAOTE" : $"CAOTE({baseScorer.Name})";

    /// <inheritdoc/>
    public override void Observe(PolicyContext context) => baseScorer?.Observe(context);

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        var v = context.Values.to(ScalarType.Float32);                                                // (B, Hkv, L, Dv)
        Tensor alpha;                                                                                 // (B, Hkv, m, L)
        if (baseScorer is null) alpha = context.KvWeights;                                            // 1.
        else
        {
            var s = baseScorer.Score(context).to(ScalarType.Float32).clamp_min(0);
            if (context.Valid is not null) s = s.masked_fill(context.Valid.logical_not(), 0);
            alpha = (s / s.sum(-1, true).clamp_min(1e-12)).unsqueeze(2);
        }
        var o = torch.matmul(alpha, v);                                                               // 2. (B, Hkv, m, Dv)
        var dist = (v.unsqueeze(2) - o.unsqueeze(3)).norm(-1, false, 2);                            //    ‖v_j − o‖ (B, Hkv, m, L)
        var err = alpha / (1 - alpha).clamp_min(1e-6) * dist;                                         // 3.
        return err.mean([2]).MoveToOuterDisposeScope();
    }
}
