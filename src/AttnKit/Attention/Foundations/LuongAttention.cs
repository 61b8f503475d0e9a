using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>Luong's three content-based score functions (section 3.1).</summary>
public enum LuongScore
{
    /// <summary>score(h_t, h̄_s) = h_tᵀ h̄_s.</summary>
    Dot,
    /// <summary>score(h_t, h̄_s) = h_tᵀ W_a h̄_s.</summary>
    General,
    /// <summary>score(h_t, h̄_s) = v_aᵀ tanh(W_a [h_t; h̄_s]).</summary>
    Concat,
}

/// <summary>
/// Global attention with Luong's score functions. Luong, Pham and Manning, "Effective Approaches to Attention-based
/// Neural Machine Translation", 2015 (arXiv 1508.04025), section 3.1: the decoder's current state h_t (the query)
/// scores every source state h̄_s (the keys) by a dot product, a bilinear form (general) or a one-layer network on
/// their concatenation (concat); the softmax of the scores mixes the source states into a context c_t, and the
/// attentional state h̃_t = tanh(W_c [c_t; h_t]) feeds the next prediction.
/// 1. scores: dot h_tᵀ h̄_s; general h_tᵀ W_a h̄_s; concat v_aᵀ tanh(W_a [h_t; h̄_s]) (eq. 8);
/// 2. a_t = softmax(scores) over the source (eq. 7);
/// 3. c_t = Σ_s a_t(s) h̄_s;
/// 4. h̃_t = tanh(W_c [c_t; h_t]) (eq. 5).
/// Dot equals scaled dot-product attention's scores without the 1/√d; general with W_a = I equals dot; concat with
/// W_a = [W_q; W_k] equals Bahdanau's additive score vᵀ tanh(W_q h_t + W_k h̄_s).
/// </summary>
public static class LuongAttention
{
    /// <summary>Step 1, dot: q (B, H, Nq, D), k (B, H, Nk, D) → q·kᵀ (B, H, Nq, Nk).</summary>
    public static Tensor DotScores(Tensor q, Tensor k)
    {
        CheckPair(q, k);
        Check.Dim(k, 3, q.shape[3], nameof(k), "width D like q (dot needs equal widths; use General otherwise)");
        return torch.matmul(q, k.transpose(-2, -1));                     // 1. (B, H, Nq, Nk)
    }

    /// <summary>Step 1, general: q (B, H, Nq, Dq), k (B, H, Nk, Dk), wa (Dq, Dk) → q·W_a·kᵀ (B, H, Nq, Nk).</summary>
    public static Tensor GeneralScores(Tensor q, Tensor k, Tensor wa)
    {
        CheckPair(q, k);
        Check.Rank(wa, 2, nameof(wa), "(Dq, Dk)");
        Check.SameDType(q, nameof(q), wa, nameof(wa));
        Check.SameDevice(q, nameof(q), wa, nameof(wa));
        Check.Dim(wa, 0, q.shape[3], nameof(wa), "rows Dq = q's width");
        Check.Dim(wa, 1, k.shape[3], nameof(wa), "columns Dk = k's width");
        using var scope = torch.NewDisposeScope();
        return torch.matmul(torch.matmul(q, wa), k.transpose(-2, -1)).MoveToOuterDisposeScope(); // 1. (B, H, Nq, Nk)
    }

    /// <summary>
    /// Step 1, concat: q (B, H, Nq, Dq), k (B, H, Nk, Dk), wa (Dq + Dk, A), va (A) → v_aᵀ tanh(W_a [q_i; k_j]) (B, H, Nq, Nk).
    /// The concatenation is never built: [q; k]·W_a = q·W_a[:Dq] + k·W_a[Dq:], which is Bahdanau's form.
    /// </summary>
    public static Tensor ConcatScores(Tensor q, Tensor k, Tensor wa, Tensor va)
    {
        CheckPair(q, k);
        Check.Rank(wa, 2, nameof(wa), "(Dq + Dk, A)");
        long dq = q.shape[3], dk = k.shape[3];
        Check.Dim(wa, 0, dq + dk, nameof(wa), "rows Dq + Dk");
        Check.Rank(va, 1, nameof(va), "(A)");
        Check.SameDType(q, nameof(q), wa, nameof(wa));
        Check.SameDType(q, nameof(q), va, nameof(va));
        Check.SameDevice(q, nameof(q), wa, nameof(wa));
        Check.SameDevice(q, nameof(q), va, nameof(va));
        Check.Dim(va, 0, wa.shape[1], nameof(va), "width A = wa's columns");
        using var scope = torch.NewDisposeScope();
        var top = wa[..(int)dq];                                        // (Dq, A)
        var bottom = wa[(int)dq..];                                     // (Dk, A)
        return BahdanauAttention.Scores(q, k, top, bottom, va).MoveToOuterDisposeScope(); // 1.
    }

    /// <summary>Steps 2–3: global attention over all source states from scores (B, H, Nq, Ns) and values (B, H, Ns, Dv).</summary>
    public static AttentionResult Global(Tensor scores, Tensor values, Tensor? allowed = null) =>
        ScoreAttention.Attend(scores, values, allowed);                // 2–3.

    /// <summary>Step 4: the attentional state tanh(W_c [c; h]): context (B, H, Nq, Dc), h (B, H, Nq, Dh), wc (Dc + Dh, Dout).</summary>
    public static Tensor AttentionalState(Tensor context, Tensor h, Tensor wc)
    {
        Check.Rank(context, 4, nameof(context), "(B, H, Nq, Dc)");
        Check.Rank(h, 4, nameof(h), "(B, H, Nq, Dh)");
        Check.Rank(wc, 2, nameof(wc), "(Dc + Dh, Dout)");
        Check.FloatingPoint(context, nameof(context));
        Check.SameDType(context, nameof(context), h, nameof(h));
        Check.SameDType(context, nameof(context), wc, nameof(wc));
        Check.SameDevice(context, nameof(context), h, nameof(h));
        Check.SameDevice(context, nameof(context), wc, nameof(wc));
        for (int d = 0; d < 3; d++) Check.Dim(h, d, context.shape[d], nameof(h), "(B, H, Nq) like the context");
        Check.Dim(wc, 0, context.shape[3] + h.shape[3], nameof(wc), "rows Dc + Dh");
        using var scope = torch.NewDisposeScope();
        return torch.matmul(torch.cat([context, h], -1), wc).tanh().MoveToOuterDisposeScope(); // 4. (B, H, Nq, Dout)
    }

    private static void CheckPair(Tensor q, Tensor k)
    {
        Check.Rank(q, 4, nameof(q), "(B, H, Nq, Dq)");
        Check.Rank(k, 4, nameof(k), "(B, H, Nk, Dk)");
        Check.FloatingPoint(q, nameof(q));
        Check.SameDType(q, nameof(q), k, nameof(k));
        Check.SameDevice(q, nameof(q), k, nameof(k));
        Check.Dim(k, 0, q.shape[0], nameof(k), "batch B like q");
        Check.Dim(k, 1, q.shape[1], nameof(k), "heads H like q");
    }
}
