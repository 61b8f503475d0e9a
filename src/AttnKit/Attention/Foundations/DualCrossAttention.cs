using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// The two cross-attentions of DCAL. Zhu et al., "Dual Cross-Attention Learning for Fine-Grained Visual Categorization
/// and Object Re-Identification", 2022 (arXiv 2205.02151), section 3:
/// global-local cross-attention (GLCA) lets the R tokens the class token responds to most (by attention rollout) query
/// all tokens, and pair-wise cross-attention (PWCA), a training-only regulariser, lets an image's queries attend over
/// its own keys and values together with those of a distractor image, so the softmax must spread its mass.
/// 1. rollout: Ŝ = Π_l (0.5·S_l + 0.5·I) over the layers' head-averaged weights S_l, renormalised per row;
/// 2. GLCA: keep the R tokens with the largest class-token rollout Ŝ[cls, ·]; their queries attend over all keys:
///    softmax(Q_R Kᵀ / √D) V;
/// 3. PWCA: softmax(Q_1 [K_1; K_2]ᵀ / √D) [V_1; V_2].
/// </summary>
public static class DualCrossAttention
{
    // no mask, so the query offset does not matter; given, so that more queries than keys is allowed
    private static readonly AttentionOptions Unmasked = new() { QueryOffset = 0 };

    /// <summary>Step 1: the rollout (B, N, N) of per-layer weights, each (B, H, N, N), first layer first.</summary>
    public static Tensor Rollout(IReadOnlyList<Tensor> layerWeights)
    {
        ArgumentNullException.ThrowIfNull(layerWeights);
        if (layerWeights.Count == 0) throw new ArgumentException($"{nameof(layerWeights)}: expected at least one layer", nameof(layerWeights));
        for (int i = 0; i < layerWeights.Count; i++)
        {
            Check.Rank(layerWeights[i], 4, $"layerWeights[{i}]", "(B, H, N, N)");
            Check.FloatingPoint(layerWeights[i], $"layerWeights[{i}]");
            Check.Dim(layerWeights[i], 3, layerWeights[i].shape[2], $"layerWeights[{i}]", "square N × N");
            if (i > 0) Check.BroadcastsTo(layerWeights[i], layerWeights[0].shape, $"layerWeights[{i}]", "the first layer's shape");
        }
        using var scope = torch.NewDisposeScope();
        long n = layerWeights[0].shape[2];
        var eye = torch.eye(n, dtype: ScalarType.Float32, device: layerWeights[0].device);
        Tensor? rollout = null;
        foreach (var w in layerWeights)
        {
            var s = 0.5 * w.to(ScalarType.Float32).mean([1]) + 0.5 * eye;               // (B, N, N)
            s = s / s.sum(-1, keepdim: true);
            rollout = rollout is null ? s : torch.matmul(s, rollout);                   // 1. later layers on the left
        }
        return rollout!.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Step 2: the R tokens with the largest response (B, N) query all keys: q, k, v (B, H, N, D) → the outputs for the
    /// kept queries (B, H, R, D) and their indices (B, R).
    /// </summary>
    public static (Tensor Output, Tensor Indices) GlobalLocal(Tensor q, Tensor k, Tensor v, Tensor response, long topR)
    {
        ScaledDotProductAttention.Validate(q, k, v, Unmasked);
        Check.Rank(response, 2, nameof(response), "(B, N)");
        Check.SameDevice(q, nameof(q), response, nameof(response));
        Check.Dim(response, 0, q.shape[0], nameof(response), "batch B like q");
        Check.Dim(response, 1, q.shape[2], nameof(response), "tokens N like q");
        Check.Positive(topR, nameof(topR));
        if (topR > q.shape[2]) throw new ArgumentException($"{nameof(topR)}: expected at most the {q.shape[2]} tokens, got {topR}", nameof(topR));
        using var scope = torch.NewDisposeScope();
        var indices = response.topk((int)topR, dim: 1).indexes;                         // 2. (B, R)
        long[] s = q.shape;
        var gather = indices.view(s[0], 1, topR, 1).expand(s[0], s[1], topR, s[3]);     // (B, H, R, D)
        var local = q.gather(2, gather);                                                // (B, H, R, D)
        var o = ScaledDotProductAttention.Reference(local, k, v, new AttentionOptions { QueryOffset = 0 }).Output;
        return (o.MoveToOuterDisposeScope(), indices.MoveToOuterDisposeScope());
    }

    /// <summary>Step 3: q1 (B, H, N, D) over [k1; k2], [v1; v2] → the output (B, H, N, Dv) and the weights (B, H, N, N1 + N2).</summary>
    public static AttentionResult PairWise(Tensor q1, Tensor k1, Tensor v1, Tensor k2, Tensor v2)
    {
        ScaledDotProductAttention.Validate(q1, k1, v1, Unmasked);
        ScaledDotProductAttention.Validate(q1, k2, v2, Unmasked);
        using var scope = torch.NewDisposeScope();
        var k = torch.cat([k1, k2], 2);                                                 // (B, H, N1 + N2, D)
        var v = torch.cat([v1, v2], 2);
        return ScaledDotProductAttention.Reference(q1, k, v, new AttentionOptions { ReturnWeights = true, QueryOffset = 0 }).MoveToOuterDisposeScope(); // 3.
    }
}
