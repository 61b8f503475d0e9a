using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Blockwise;

/// <summary>
/// The log-sum-exp merge of partial attentions. Rabe &amp; Staats, "Self-attention Does Not Need O(n²) Memory", 2021
/// (arXiv 2112.05682), §2; Milakov &amp; Gimelshein, "Online normalizer calculation for softmax", 2018 (arXiv 1805.02867).
/// If o_a, ℓ_a is attention over key set A (output normalized over A, ℓ_a = log Σ_{j∈A} exp s_j) and o_b, ℓ_b over
/// a disjoint set B, then attention over A ∪ B is a weighted mean of the two, weighted by each part's share of the
/// total exp-mass. Ring attention, tree attention, split-KV decoding and offloading all compute parts apart and
/// merge them with this one operation. It is associative and commutative, and exact up to rounding:
/// 1. m = max(ℓ_a, ℓ_b) (0 where both are −∞, so nothing becomes NaN);
/// 2. w_a = exp(ℓ_a − m), w_b = exp(ℓ_b − m), both ≤ 1, so nothing overflows;
/// 3. ℓ = m + log(w_a + w_b) (−∞ when both parts are empty);
/// 4. o = (w_a·o_a + w_b·o_b) / (w_a + w_b) (zeros when both parts are empty).
/// </summary>
public static class LogSumExpMerge
{
    /// <summary>Attention over the union of two disjoint key sets (steps 1–4).</summary>
    public static PartialAttention Merge(PartialAttention a, PartialAttention b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        CheckPair(a, nameof(a), b, nameof(b));
        using var scope = torch.NewDisposeScope();
        var (la, lb) = (a.LogSumExp.unsqueeze(-1), b.LogSumExp.unsqueeze(-1));         // (B, H, Nq, 1)
        var m = torch.maximum(la, lb);                                                  // 1.
        m = torch.where(m.isfinite(), m, torch.zeros_like(m));
        var wa = (la - m).exp();                                                        // 2. exp(−∞) = 0
        var wb = (lb - m).exp();
        var w = wa + wb;
        var lse = (m + w.log()).squeeze(-1);                                            // 3. (B, H, Nq)
        var share = wb / torch.where(w.gt(0), w, torch.ones_like(w));                  //    b's share, wb / (wa + wb); 0 when both are empty
        var o = torch.lerp(Float(a.Output), Float(b.Output), share);                    // 4. (wa·o_a + wb·o_b) / (wa + wb) = o_a + share·(o_b − o_a): one pass
        return new PartialAttention(o, lse).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Merges the part (<paramref name="partOutput"/>, <paramref name="partLogSumExp"/>) into an accumulator in place
    /// (steps 1–4): <paramref name="output"/> (B, H, Nq, Dv), any float dtype, and <paramref name="logSumExp"/>
    /// (B, H, Nq) float32 become the attention over the union of their key set and the part's. The accumulators may
    /// be views (a query block of a larger output), so the kernel-speed forms write every merge where it belongs with no
    /// copy and no float32 detour; the part's output may be in the kernel's dtype. One TorchScript call
    /// (<see cref="FusedKernels"/>). The merge weight is rounded to the output's dtype: exact in float32, within the
    /// dtype's rounding in bf16/fp16.
    /// </summary>
    public static void MergeInto(Tensor output, Tensor logSumExp, Tensor partOutput, Tensor partLogSumExp)
    {
        Check.NotNull(output, nameof(output));
        Check.NotNull(logSumExp, nameof(logSumExp));
        Check.NotNull(partOutput, nameof(partOutput));
        Check.NotNull(partLogSumExp, nameof(partLogSumExp));
        Check.Rank(output, 4, nameof(output), "(B, H, Nq, Dv)");
        long[] o = output.shape, p = partOutput.shape, l = logSumExp.shape, pl = partLogSumExp.shape;
        if (!o.SequenceEqual(p))
            throw new ArgumentException($"{nameof(partOutput)}: expected shape ({string.Join(", ", o)}) like the output, got ({string.Join(", ", p)})", nameof(partOutput));
        if (!l.SequenceEqual(o[..3]) || !pl.SequenceEqual(o[..3]))
            throw new ArgumentException($"{nameof(logSumExp)}: expected both log-sum-exps of shape ({o[0]}, {o[1]}, {o[2]}), got ({string.Join(", ", l)}) and ({string.Join(", ", pl)})", nameof(logSumExp));
        if (logSumExp.dtype != ScalarType.Float32 || partLogSumExp.dtype != ScalarType.Float32)
            throw new ArgumentException($"{nameof(logSumExp)}: expected float32 log-sum-exps, got {logSumExp.dtype} and {partLogSumExp.dtype}", nameof(logSumExp));
        Check.FloatingPoint(output, nameof(output));
        Check.SameDevice(output, nameof(output), partOutput, nameof(partOutput));
        Check.SameDevice(output, nameof(output), logSumExp, nameof(logSumExp));
        Check.SameDevice(output, nameof(output), partLogSumExp, nameof(partLogSumExp));
        using var converted = partOutput.dtype == output.dtype ? null : partOutput.to(output.dtype);
        FusedKernels.MergeInto(output, logSumExp, converted ?? partOutput, partLogSumExp);
    }

    /// <summary>
    /// Merges many parts at once (what a tree or split-KV reduction computes): ℓ = logsumexp_i ℓ_i,
    /// o = Σ_i exp(ℓ_i − ℓ)·o_i. Equal to folding <see cref="Merge"/> over the parts in any order.
    /// </summary>
    public static PartialAttention MergeAll(IReadOnlyList<PartialAttention> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException($"{nameof(parts)}: expected at least one partial attention, got none", nameof(parts));
        for (int i = 0; i < parts.Count; i++)
        {
            if (parts[i] is null) throw new ArgumentException($"{nameof(parts)}[{i}]: expected a partial attention, got null", nameof(parts));
            CheckPair(parts[0], $"{nameof(parts)}[0]", parts[i], $"{nameof(parts)}[{i}]");
        }
        using var scope = torch.NewDisposeScope();
        var (output, lse) = MergeAlong(torch.stack(parts.Select(p => p.Output).ToArray(), 0), torch.stack(parts.Select(p => p.LogSumExp).ToArray(), 0), 0); // (P, B, H, Nq, Dv), (P, B, H, Nq)
        return new PartialAttention(output, lse).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Merges parts stacked along <paramref name="dim"/>: outputs (…, P, …, Dv) and log-sum-exps (…, P, …) with P at
    /// <paramref name="dim"/> in both (what one batched kernel call over P key chunks returns). Returns the merged
    /// output (float32, P removed) and log-sum-exp. Steps 1–4 over P parts at once.
    /// </summary>
    public static (Tensor Output, Tensor LogSumExp) MergeAlong(Tensor outputs, Tensor logSumExps, int dim)
    {
        Check.NotNull(outputs, nameof(outputs));
        Check.NotNull(logSumExps, nameof(logSumExps));
        if (outputs.dim() != logSumExps.dim() + 1 || dim < 0 || dim >= logSumExps.dim())
            throw new ArgumentException($"{nameof(dim)}: expected outputs with one more axis (Dv) than the log-sum-exps and 0 ≤ dim < {logSumExps.dim()}; got ranks {outputs.dim()} and {logSumExps.dim()}, dim {dim}", nameof(dim));
        using var scope = torch.NewDisposeScope();
        var l = logSumExps.to(ScalarType.Float32);
        var m = l.amax([dim], keepdim: true);                                           // 1.
        m = torch.where(m.isfinite(), m, torch.zeros_like(m));
        var w = (l - m).exp();                                                          // 2.
        var total = w.sum(dim, keepdim: true);
        var lse = (m + total.log()).squeeze(dim);                                       // 3.
        var share = w / torch.where(total.gt(0), total, torch.ones_like(total));
        var output = (share.unsqueeze(-1) * outputs.to(ScalarType.Float32)).sum(dim);   // 4.
        output.MoveToOuterDisposeScope();
        return (output, lse.MoveToOuterDisposeScope());
    }

    private static Tensor Float(Tensor t) => t.dtype == ScalarType.Float32 ? t : t.to(ScalarType.Float32);

    private static void CheckPair(PartialAttention a, string aName, PartialAttention b, string bName)
    {
        Check.NotNull(a.Output, aName + ".Output");
        Check.NotNull(b.Output, bName + ".Output");
        Check.SameDevice(a.Output, aName + ".Output", b.Output, bName + ".Output");
        Check.SameDType(a.Output, aName + ".Output", b.Output, bName + ".Output");
        long[] sa = a.Output.shape, sb = b.Output.shape;
        if (!sa.SequenceEqual(sb))
            throw new ArgumentException($"{bName}: expected an output of shape ({string.Join(", ", sa)}) like {aName}, got ({string.Join(", ", sb)})", bName);
    }
}
