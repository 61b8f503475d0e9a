using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// Additive attention. Bahdanau, Cho and Bengio, "Neural Machine Translation by Jointly Learning to Align and
/// Translate", 2014 (arXiv 1409.0473), eq. (6) and appendix A.1.2: a one-hidden-layer network scores how well
/// query i (the decoder state) and key j (an encoder annotation) match, e_ij = vᵀ tanh(W_q q_i + W_k k_j), and the
/// softmax of those scores mixes the values. Pointer networks (<see cref="PointerNetwork"/>) and Luong's concat score
/// (<see cref="LuongAttention.ConcatScores"/>) use the same form.
/// 1. project the queries and the keys into the hidden space of width A: q·W_q (…, Nq, A), k·W_k (…, Nk, A);
/// 2. add every pair and squash: tanh(q_i W_q + k_j W_k) (…, Nq, Nk, A);
/// 3. reduce with v: e_ij = Σ_a v_a · tanh(…)_a (…, Nq, Nk);
/// 4. weights a = softmax_j(e), context c_i = Σ_j a_ij v_j (<see cref="ScoreAttention"/>).
/// </summary>
public static class BahdanauAttention
{
    /// <summary>
    /// The additive scores, steps 1–3: q (B, H, Nq, Dq), k (B, H, Nk, Dk), wq (Dq, A), wk (Dk, A), v (A) → (B, H, Nq, Nk).
    /// Memory grows as Nq·Nk·A: this is the plain reference, meant for the small sizes of a notebook.
    /// </summary>
    public static Tensor Scores(Tensor q, Tensor k, Tensor wq, Tensor wk, Tensor v)
    {
        Validate(q, k, wq, wk, v);
        using var scope = torch.NewDisposeScope();
        var pq = torch.matmul(q, wq);                                   // 1. (B, H, Nq, A)
        var pk = torch.matmul(k, wk);                                   //    (B, H, Nk, A)
        var hidden = (pq.unsqueeze(3) + pk.unsqueeze(2)).tanh();        // 2. (B, H, Nq, Nk, A)
        return torch.matmul(hidden, v).MoveToOuterDisposeScope();       // 3. (B, H, Nq, Nk)
    }

    /// <summary>Additive attention, steps 1–4: the context (B, H, Nq, Dv) and the weights (B, H, Nq, Nk).</summary>
    public static AttentionResult Attend(Tensor q, Tensor k, Tensor values, Tensor wq, Tensor wk, Tensor v, Tensor? allowed = null)
    {
        using var scope = torch.NewDisposeScope();
        var scores = Scores(q, k, wq, wk, v);
        return ScoreAttention.Attend(scores, values, allowed).MoveToOuterDisposeScope(); // 4.
    }

    internal static void Validate(Tensor q, Tensor k, Tensor wq, Tensor wk, Tensor v)
    {
        Check.Rank(q, 4, nameof(q), "(B, H, Nq, Dq)");
        Check.Rank(k, 4, nameof(k), "(B, H, Nk, Dk)");
        Check.Rank(wq, 2, nameof(wq), "(Dq, A)");
        Check.Rank(wk, 2, nameof(wk), "(Dk, A)");
        Check.Rank(v, 1, nameof(v), "(A)");
        Check.FloatingPoint(q, nameof(q));
        foreach (var (t, name) in new[] { (k, nameof(k)), (wq, nameof(wq)), (wk, nameof(wk)), (v, nameof(v)) })
        {
            Check.SameDType(q, nameof(q), t, name);
            Check.SameDevice(q, nameof(q), t, name);
        }
        Check.Dim(k, 0, q.shape[0], nameof(k), "batch B like q");
        Check.Dim(k, 1, q.shape[1], nameof(k), "heads H like q");
        Check.Dim(wq, 0, q.shape[3], nameof(wq), "rows Dq = q's last dimension");
        Check.Dim(wk, 0, k.shape[3], nameof(wk), "rows Dk = k's last dimension");
        Check.Dim(wk, 1, wq.shape[1], nameof(wk), "hidden width A like wq");
        Check.Dim(v, 0, wq.shape[1], nameof(v), "hidden width A like wq");
    }
}
