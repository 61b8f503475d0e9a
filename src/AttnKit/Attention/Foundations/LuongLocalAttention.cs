using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// Local attention. Luong, Pham and Manning, "Effective Approaches to Attention-based Neural Machine Translation",
/// 2015 (arXiv 1508.04025), section 3.2: each target step t attends only to a window [p_t − D, p_t + D] of the
/// source around an aligned position p_t. Local-m (monotonic) takes p_t = t; local-p (predictive) predicts
/// p_t = S·sigmoid(v_pᵀ tanh(W_p h_t)) from the decoder state and favours positions near p_t with a Gaussian.
/// 1. aligned position: local-m p_t = t (clamped to the source), local-p p_t = (S − 1)·sigmoid(v_pᵀ tanh(W_p h_t))
///    (eq. 9; S − 1 rather than the paper's S because positions here count from 0);
/// 2. window: source position s is allowed when p_t − D ≤ s ≤ p_t + D;
/// 3. align(h_t, h̄_s) = softmax of the scores over the window (eq. 7 restricted to it);
/// 4. local-p only: a_t(s) = align(h_t, h̄_s)·exp(−(s − p_t)² / (2σ²)) with σ = D/2 (eq. 10), not renormalised;
/// 5. context c_t = Σ_s a_t(s) h̄_s.
/// With D ≥ S and no Gaussian the window covers the source and local attention equals global attention.
/// </summary>
public static class LuongLocalAttention
{
    /// <summary>Step 1, local-m: p_t = min(t, S − 1) for the queries t = 0..Nq−1, as (Nq) float32 on <paramref name="device"/>.</summary>
    public static Tensor MonotonicPositions(long queries, long sourceLength, Device? device = null)
    {
        Check.Positive(queries, nameof(queries));
        Check.Positive(sourceLength, nameof(sourceLength));
        using var scope = torch.NewDisposeScope();
        return torch.arange(queries, ScalarType.Float32, device ?? Kit.Device).clamp_max(sourceLength - 1).MoveToOuterDisposeScope(); // 1. (Nq)
    }

    /// <summary>
    /// Step 1, local-p: h (B, H, Nq, Dh), wp (Dh, A), vp (A) → p = (S − 1)·sigmoid(v_pᵀ tanh(h·W_p)) (B, H, Nq), in [0, S − 1].
    /// </summary>
    public static Tensor PredictedPositions(Tensor h, Tensor wp, Tensor vp, long sourceLength)
    {
        Check.Rank(h, 4, nameof(h), "(B, H, Nq, Dh)");
        Check.Rank(wp, 2, nameof(wp), "(Dh, A)");
        Check.Rank(vp, 1, nameof(vp), "(A)");
        Check.FloatingPoint(h, nameof(h));
        Check.SameDType(h, nameof(h), wp, nameof(wp));
        Check.SameDType(h, nameof(h), vp, nameof(vp));
        Check.SameDevice(h, nameof(h), wp, nameof(wp));
        Check.SameDevice(h, nameof(h), vp, nameof(vp));
        Check.Dim(wp, 0, h.shape[3], nameof(wp), "rows Dh = h's width");
        Check.Dim(vp, 0, wp.shape[1], nameof(vp), "width A = wp's columns");
        Check.Positive(sourceLength, nameof(sourceLength));
        using var scope = torch.NewDisposeScope();
        var z = torch.matmul(torch.matmul(h, wp).tanh(), vp);                       // (B, H, Nq)
        return (z.sigmoid() * (sourceLength - 1)).to(ScalarType.Float32).MoveToOuterDisposeScope(); // 1.
    }

    /// <summary>
    /// Steps 2–4: the local weights (B, H, Nq, S) from scores (B, H, Nq, S), aligned positions p (broadcasting to
    /// (B, H, Nq)) and the half-width D. <paramref name="gaussian"/>: local-p's Gaussian (step 4); false for local-m.
    /// </summary>
    public static Tensor Weights(Tensor scores, Tensor positions, long halfWidth, bool gaussian)
    {
        Check.Rank(scores, 4, nameof(scores), "(B, H, Nq, S)");
        Check.FloatingPoint(scores, nameof(scores));
        Check.NotNull(positions, nameof(positions));
        Check.FloatingPoint(positions, nameof(positions));
        Check.SameDevice(scores, nameof(scores), positions, nameof(positions));
        Check.BroadcastsTo(positions, scores.shape[..3], nameof(positions), "(B, H, Nq)");
        Check.NonNegative(halfWidth, nameof(halfWidth));
        if (gaussian && halfWidth == 0)
            throw new ArgumentException($"{nameof(halfWidth)}: local-p's Gaussian has σ = D/2, so D must be at least 1, got 0", nameof(halfWidth));
        using var scope = torch.NewDisposeScope();
        long s = scores.shape[3];
        var pos = torch.arange(s, ScalarType.Float32, scores.device);              // (S)
        var p = positions.to(ScalarType.Float32).unsqueeze(-1);                     // (…, Nq, 1)
        var distance = pos - p;                                                     // (…, Nq, S)
        var window = distance.abs().le(halfWidth);                                  // 2.
        var a = ScoreAttention.Weights(scores, window);                             // 3.
        if (gaussian)
        {
            double sigma = halfWidth / 2.0;
            a = a * (-(distance * distance) / (2 * sigma * sigma)).exp();           // 4.
        }
        return a.MoveToOuterDisposeScope();
    }

    /// <summary>Steps 2–5: the context (B, H, Nq, Dv) and weights of local attention over values (B, H, S, Dv).</summary>
    public static AttentionResult Attend(Tensor scores, Tensor values, Tensor positions, long halfWidth, bool gaussian)
    {
        Check.Rank(values, 4, nameof(values), "(B, H, S, Dv)");
        Check.FloatingPoint(values, nameof(values));
        Check.Rank(scores, 4, nameof(scores), "(B, H, Nq, S)");
        Check.SameDevice(scores, nameof(scores), values, nameof(values));
        Check.Dim(values, 2, scores.shape[3], nameof(values), "source length S like the scores");
        using var scope = torch.NewDisposeScope();
        var a = Weights(scores, positions, halfWidth, gaussian);
        var c = torch.matmul(a, values.to(ScalarType.Float32)).to(values.dtype);   // 5. (B, H, Nq, Dv)
        return new AttentionResult(c, a).MoveToOuterDisposeScope();
    }
}
