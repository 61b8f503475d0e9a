using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// Neural Attention Search's learned deletion: Deng and Lindauer, "Neural Attention Search", 2025 (arXiv 2502.13251),
/// section 3. Each token, per head, takes one of three roles that fix its lifetime: Global tokens are kept for every
/// later query; Local tokens live until the next Global token; Sliding-window tokens are read by the next
/// <see cref="Window"/> queries only. The roles come from a learned projection trained through a learnable attention
/// mask (<see cref="SoftMask"/>), so the cache's deletions follow what the model learned to need.
/// 1. role logits per (row, KV head, token) = k·W_h + b_h (the paper projects the hidden state; we read the key the
///    cache holds), role = argmax (Gumbel-softmax during training);
/// 2. the hard mask: query i reads token j ≤ i when j is Global, or Local with no Global token strictly between j and
///    i, or Sliding with i − j &lt; W (<see cref="Mask"/>);
/// 3. in the cache, a token expires when step 2 says no later query reads it: Local ones once a later Global token is
///    held, Sliding ones W positions later; expired tokens are dropped whatever the budget (decoding one token at a
///    time then equals attention under the mask).
/// </summary>
public sealed class NeuralAttentionSearch : TokenScorer
{
    /// <summary>Role indices.</summary>
    public const int Global = 0, Local = 1, Sliding = 2;

    /// <summary>A role predictor for <paramref name="kvHeads"/> heads of dim <paramref name="headDim"/>, initialised at random (seeded) or given.</summary>
    public NeuralAttentionSearch(long kvHeads, long headDim, int window, Tensor? weight = null, Tensor? bias = null)
    {
        Check.Positive(kvHeads, nameof(kvHeads));
        Check.Positive(headDim, nameof(headDim));
        Check.Positive(window, nameof(window));
        Window = window;
        if (weight is not null) { Check.Rank(weight, 3, nameof(weight), "(Hkv, D, 3)"); Check.Dim(weight, 0, kvHeads, nameof(weight), "Hkv"); Check.Dim(weight, 1, headDim, nameof(weight), "D"); Check.Dim(weight, 2, 3, nameof(weight), "3 roles"); }
        if (bias is not null) { Check.Rank(bias, 2, nameof(bias), "(Hkv, 3)"); Check.Dim(bias, 0, kvHeads, nameof(bias), "Hkv"); Check.Dim(bias, 1, 3, nameof(bias), "3 roles"); }
        Weight = (weight?.to(ScalarType.Float32).clone() ?? torch.randn(kvHeads, headDim, 3) / Math.Sqrt(headDim)).DetachFromDisposeScope();
        Bias = (bias?.to(ScalarType.Float32).clone() ?? torch.zeros(kvHeads, 3)).DetachFromDisposeScope();
    }

    /// <summary>W (Hkv, D, 3).</summary>
    public Tensor Weight { get; }
    /// <summary>b (Hkv, 3).</summary>
    public Tensor Bias { get; }
    /// <summary>W: the lifetime of a Sliding token.</summary>
    public int Window { get; }

    /// <inheritdoc/>
    public override string Name => "NAtS";

    /// <inheritdoc/>
    public override bool Expires => true;

    /// <summary>Step 1: role logits (B, Hkv, L, 3) of keys (B, Hkv, L, D).</summary>
    public Tensor RoleLogits(Tensor keys)
    {
        Check.Rank(keys, 4, nameof(keys), "(B, Hkv, L, D)");
        Check.Dim(keys, 1, Weight.shape[0], nameof(keys), "the predictor's Hkv");
        Check.Dim(keys, 3, Weight.shape[1], nameof(keys), "the predictor's D");
        using var scope = torch.NewDisposeScope();
        var w = Weight.to(keys.device);
        var logits = torch.einsum("bhld,hdr->bhlr", keys.to(ScalarType.Float32), w) + Bias.to(keys.device).view(1, -1, 1, 3);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>Step 1: roles (B, Hkv, L) int64.</summary>
    public Tensor Roles(Tensor keys)
    {
        using var scope = torch.NewDisposeScope();
        return RoleLogits(keys).argmax(-1).MoveToOuterDisposeScope();
    }

    /// <summary>Step 2: the hard mask (B, H, N, N) bool of roles (B, H, N) for a window W, true where query i reads token j.</summary>
    public static Tensor Mask(Tensor roles, int window)
    {
        Check.Rank(roles, 3, nameof(roles), "(B, H, N)");
        Check.Positive(window, nameof(window));
        using var scope = torch.NewDisposeScope();
        long n = roles.shape[2];
        var i = torch.arange(n, device: roles.device).view(n, 1);
        var j = torch.arange(n, device: roles.device).view(1, n);
        var causal = j.le(i);                                                                            // (N, N)
        var isGlobal = roles.eq(Global).to(ScalarType.Int64);                                           // (B, H, N)
        var globalsUpTo = isGlobal.cumsum(-1);                                                           // globals at positions ≤ t
        // globals strictly between j and i: G(≤ i−1) − G(≤ j)
        var before = torch.cat([torch.zeros_like(globalsUpTo.narrow(2, 0, 1)), globalsUpTo.narrow(2, 0, n - 1)], 2); // G(≤ i−1)
        var between = before.unsqueeze(3) - globalsUpTo.unsqueeze(2);                                  // (B, H, N_i, N_j)
        var r = roles.unsqueeze(2);                                                                      // (B, H, 1, N_j)
        var reads = r.eq(Global)
            .logical_or(r.eq(Local).logical_and(between.le(0)))
            .logical_or(r.eq(Sliding).logical_and((i - j).lt(window)));
        return reads.logical_and(causal).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The learnable mask of training (B, H, N, N) float: with role probabilities p (B, H, N, 3) (a Gumbel-softmax of the
    /// role logits), m_ij = p_G(j) + p_L(j)·Π_{j&lt;k&lt;i}(1 − p_G(k)) + p_S(j)·[i − j &lt; W] for j ≤ i; attention adds log m.
    /// At one-hot p it is the hard <see cref="Mask"/>.
    /// </summary>
    public static Tensor SoftMask(Tensor probs, int window)
    {
        Check.Rank(probs, 4, nameof(probs), "(B, H, N, 3)");
        Check.Dim(probs, 3, 3, nameof(probs), "3 roles");
        using var scope = torch.NewDisposeScope();
        long n = probs.shape[2];
        var pg = probs.select(3, Global); var pl = probs.select(3, Local); var ps = probs.select(3, Sliding);   // (B, H, N)
        var logKeep = (1 - pg).clamp_min(1e-12).log().cumsum(-1);                                               // Σ_{k ≤ t} log(1 − p_G(k))
        var upToPrev = torch.cat([torch.zeros_like(logKeep.narrow(2, 0, 1)), logKeep.narrow(2, 0, n - 1)], 2);  // Σ_{k ≤ i−1}
        var survive = (upToPrev.unsqueeze(3) - logKeep.unsqueeze(2)).clamp_max(0).exp();                      // Π_{j<k<i} (B, H, N_i, N_j)
        var i = torch.arange(n, device: probs.device).view(n, 1);
        var j = torch.arange(n, device: probs.device).view(1, n);
        var m = pg.unsqueeze(2) + pl.unsqueeze(2) * survive + ps.unsqueeze(2) * (i - j).lt(window).to(probs.dtype);
        return m.masked_fill(j.gt(i), 0).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override void Observe(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        var role = context.State("role", -1);
        var fresh = role.lt(0);
        context.SetState("role", torch.where(fresh, Roles(context.Keys).to(ScalarType.Float32), role));       // 1.
    }

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context) => context.Positions.to(ScalarType.Float32);            // within budget: the most recent

    /// <inheritdoc/>
    public override Tensor? Expired(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        var role = context.State("role", -1);
        var pos = context.Positions;
        var globalPos = torch.where(role.eq(Global), pos, torch.full_like(pos, -1));
        if (context.Valid is not null) globalPos = globalPos.masked_fill(context.Valid.logical_not(), -1);
        var lastGlobal = globalPos.amax([2], true);                                                             // (B, Hkv, 1)
        var localDead = role.eq(Local).logical_and(pos.lt(lastGlobal));                                         // 3.
        var slidingDead = role.eq(Sliding).logical_and(pos.le(context.Seen - Window));                          // 3. next query at Seen
        return localDead.logical_or(slidingDead).MoveToOuterDisposeScope();
    }
}
