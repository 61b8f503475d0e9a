using AttnKit.Core;
using AttnKit.Positional;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// Expected Attention: Devoto et al., "Expected Attention: KV Cache Compression by Estimating Attention from Future
/// Queries Distribution", 2025 (arXiv 2510.00636), section 3. Future queries are not known, but their distribution is:
/// model the (unrotated) queries as a Gaussian N(μ, Σ) estimated from recent ones; for a key k the expected
/// unnormalised attention of a query q ~ N(μ̄, Σ̄) is E[exp(qᵀk/√D)] = exp(μ̄ᵀk/√D + kᵀΣ̄k/(2D)) (the Gaussian's moment
/// generating function), where μ̄ and Σ̄ include RoPE averaged over the next positions.
/// 1. keep the last <see cref="History"/> queries, unrotated (rotated back by their own position);
/// 2. μ, Σ: their mean and covariance per (row, query head);
/// 3. R̄ = the rotation averaged over the next <see cref="Lookahead"/> positions; μ̄ = R̄μ, Σ̄ = R̄ΣR̄ᵀ;
/// 4. z_j = μ̄ᵀk_j/√D + k_jᵀΣ̄k_j/(2D); expected attention ẑ = softmax over the held tokens;
/// 5. score = (ẑ_j + ε)·‖v_j‖ (a token's expected contribution to the output), averaged over the KV head's query heads.
/// Without a rotary embedding the queries are used as they are and step 3 is the identity.
/// </summary>
public sealed class ExpectedAttention : TokenScorer
{
    private readonly RotaryEmbedding? rope;
    private Tensor? history;   // (B, Hq, m, D) unrotated queries, outside any scope

    /// <summary>Expected Attention for a model with <paramref name="rope"/> (null: no rotary positions).</summary>
    public ExpectedAttention(RotaryEmbedding? rope, int history = 16, int lookahead = 16, double epsilon = 1e-2)
    {
        Check.Positive(history, nameof(history));
        Check.Positive(lookahead, nameof(lookahead));
        Check.PositiveFinite(epsilon, nameof(epsilon));
        (this.rope, History, Lookahead, Epsilon) = (rope, history, lookahead, epsilon);
    }

    /// <summary>Recent queries the statistics come from.</summary>
    public int History { get; }
    /// <summary>Future positions the rotation is averaged over.</summary>
    public int Lookahead { get; }
    /// <summary>ε of step 5.</summary>
    public double Epsilon { get; }

    /// <inheritdoc/>
    public override string Name => "Expected Attention";

    /// <inheritdoc/>
    public override void Observe(PolicyContext context)
    {
        if (context.Queries is null) throw new InvalidOperationException("Expected Attention needs the queries; the attention layer gave none");
        using var scope = torch.NewDisposeScope();
        var q = context.Queries.to(ScalarType.Float32);
        if (rope is not null) q = rope.Apply(q, context.QueryPositions.neg());                                  // 1. R(−p)·R(p)q = q
        var all = history is null ? q : torch.cat([history, q], 2);
        long m = all.shape[2];
        var kept = all.narrow(2, Math.Max(0, m - History), Math.Min(m, History)).contiguous();
        history?.Dispose();
        history = kept.DetachFromDisposeScope();
    }

    /// <inheritdoc/>
    public override void Reset()
    {
        history?.Dispose();
        history = null;
    }

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context)
    {
        if (history is null) throw new InvalidOperationException("Expected Attention scores after it has seen queries");
        using var scope = torch.NewDisposeScope();
        long d = history.shape[3], m = history.shape[2], hq = history.shape[1], hkv = context.Keys.shape[1];
        var mu = history.mean([2]);                                                                              // 2. (B, Hq, D)
        var centred = history - mu.unsqueeze(2);
        var sigma = m > 1 ? torch.matmul(centred.transpose(2, 3), centred) / (m - 1) : torch.zeros([history.shape[0], hq, d, d], device: history.device); // (B, Hq, D, D)
        if (rope is not null)
        {
            var rbarT = MeanRotationTransposed(d, context.Seen, history.device);                                // 3. R̄ᵀ (D, D)
            mu = torch.matmul(mu, rbarT);                                                                        //    μ̄ᵀ = μᵀR̄ᵀ
            sigma = torch.matmul(torch.matmul(rbarT.t(), sigma), rbarT);                                         //    Σ̄ = R̄ΣR̄ᵀ
        }
        var k = context.Keys.to(ScalarType.Float32).repeat_interleave(hq / hkv, 1);                            // (B, Hq, L, D)
        var linear = torch.matmul(k, mu.unsqueeze(-1)).squeeze(-1) / Math.Sqrt(d);                             // 4. (B, Hq, L)
        var quadratic = (torch.matmul(k, sigma) * k).sum(-1) / (2.0 * d);
        var z = linear + quadratic;
        if (context.Valid is not null) z = z.masked_fill(context.Valid.repeat_interleave(hq / hkv, 1).logical_not(), float.NegativeInfinity);
        var expected = z.softmax(-1);
        var vnorm = context.Values.to(ScalarType.Float32).norm(-1, false, 2).repeat_interleave(hq / hkv, 1);  // (B, Hq, L)
        return context.GroupMean((expected + Epsilon) * vnorm).MoveToOuterDisposeScope();                     // 5.
    }

    /// <summary>R̄ᵀ: the transposed rotation averaged over positions from <paramref name="next"/> on, (D, D).</summary>
    private Tensor MeanRotationTransposed(long d, long next, Device device)
    {
        // rotating the rows of the identity gives Rᵀ (row j is (R e_j)ᵀ); one head per future position
        var eye = torch.eye(d, device: device).expand(1, Lookahead, d, d);                                     // (1, T, D, D)
        var pos = torch.arange(next, next + Lookahead, ScalarType.Int64, device).view(1, Lookahead, 1).expand(1, Lookahead, d);
        return rope!.Apply(eye.contiguous(), pos.contiguous()).mean([1]).squeeze(0);                            // (D, D)
    }
}
