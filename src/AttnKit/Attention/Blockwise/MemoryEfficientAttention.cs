using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Blockwise;

/// <summary>
/// Memory-efficient attention. Rabe &amp; Staats, "Self-attention Does Not Need O(n²) Memory", 2021 (arXiv 2112.05682),
/// §2–3 and their Figure 1. Queries are split into chunks; for each query chunk, every key chunk is first *summarized*
/// on its own (its exp-weighted values, its sum of weights, and the maximum score they were taken against), then the
/// summaries are combined once with the log-sum-exp trick. Unlike <see cref="FlashAttention"/>'s online softmax, which
/// folds key blocks into one running state, this keeps one summary per key chunk and rescales them all at the end.
/// Memory beyond inputs and output: one query chunk's summaries, O(Nk/ck · cq · Dv), and one cq × ck tile.
/// For each query chunk Q_c (cq queries):
/// 1. for each key chunk K_j, V_j (ck keys): s = tile scores (scale, score modifier, mask);
/// 2. m_j = max s (a constant for differentiation: the paper's stop_gradient; it cancels in the result);
/// 3. e = exp(s − m_j); summary_j = (e·V_j, Σ e, m_j);
/// 4. M = max_j m_j; each summary is rescaled by exp(m_j − M);
/// 5. O_c = Σ_j exp(m_j − M)·(e·V_j)_j / Σ_j exp(m_j − M)·(Σ e)_j (zeros for a query with no allowed key).
/// Gradients flow through autograd, which stores each chunk's intermediates; the paper avoids that with
/// jax.checkpoint (recompute in the backward pass), which is what <see cref="FlashAttention.Backward"/> does here.
/// </summary>
public static class MemoryEfficientAttention
{
    /// <summary>Attention output (B, Hq, Nq, Dv) in q's dtype; chunk sizes are <see cref="BlockwiseOptions.QueryBlock"/> and <see cref="BlockwiseOptions.KeyBlock"/>.</summary>
    public static Tensor Compute(Tensor q, Tensor k, Tensor v, BlockwiseOptions? options = null)
    {
        options ??= BlockwiseOptions.None;
        var (_, offset, scale) = FlashAttention.Validate(q, k, v, options);
        using var scope = torch.NewDisposeScope();
        long nq = q.shape[2], nk = k.shape[2];
        var dev = q.device;
        var chunks = new List<Tensor>();
        for (long i0 = 0; i0 < nq; i0 += options.QueryBlock)
        {
            long cq = Math.Min(options.QueryBlock, nq - i0);
            using var chunk = torch.NewDisposeScope();
            var qc = q.narrow(2, i0, cq);                                                   // (B, Hq, cq, D)
            var qPos = AttentionTile.Range(offset + i0, cq, dev);
            var values = new List<Tensor>();
            var weights = new List<Tensor>();
            var maxima = new List<Tensor>();
            for (long j0 = 0; j0 < nk; j0 += options.KeyBlock)
            {
                long ck = Math.Min(options.KeyBlock, nk - j0);
                if (FlashAttention.Hidden(options.Mask, offset + i0, cq, j0)) continue;
                using var tile = torch.NewDisposeScope();
                var s = AttentionTile.ScoresUnchecked(qc, k.narrow(2, j0, ck), qPos, AttentionTile.Range(j0, ck, dev), options.Mask, options.ScoreMod, scale); // 1. (B, Hq, cq, ck)
                var m = s.amax([-1], keepdim: true).detach();                               // 2. (B, Hq, cq, 1)
                m = torch.where(m.isfinite(), m, torch.zeros_like(m));
                var e = (s - m).exp();                                                      // 3.
                var ev = AttentionTile.GroupedMatmul(e, v.narrow(2, j0, ck));                //    (B, Hq, cq, Dv)
                var w = e.sum(-1, keepdim: true);                                           //    (B, Hq, cq, 1)
                TensorMemory.Sample();
                values.Add(ev.MoveToOuterDisposeScope());
                weights.Add(w.MoveToOuterDisposeScope());
                maxima.Add(m.MoveToOuterDisposeScope());
            }
            if (maxima.Count == 0)
            {
                chunks.Add(torch.zeros([q.shape[0], q.shape[1], cq, v.shape[3]], ScalarType.Float32, dev).MoveToOuterDisposeScope());
                continue;
            }
            var mAll = torch.stack(maxima, 0);                                              // (C, B, Hq, cq, 1)
            var global = mAll.amax([0], keepdim: true);                                     // 4.
            var rescale = (mAll - global).exp();
            var num = (torch.stack(values, 0) * rescale).sum(0, keepdim: false);                            // 5. (B, Hq, cq, Dv)
            var den = (torch.stack(weights, 0) * rescale).sum(0, keepdim: false);                           //    (B, Hq, cq, 1)
            var oc = num / torch.where(den.gt(0), den, torch.ones_like(den));
            TensorMemory.Sample();
            chunks.Add(oc.MoveToOuterDisposeScope());
        }
        return torch.cat(chunks, 2).to(q.dtype).MoveToOuterDisposeScope();                  // (B, Hq, Nq, Dv)
    }
}
