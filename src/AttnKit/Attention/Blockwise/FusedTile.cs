using AttnKit.Attention.Masks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Blockwise;

/// <summary>
/// One tile of blockwise attention computed by a fused kernel instead of per-tile TorchSharp calls: the tiled
/// FlashAttention form and ring attention at kernel speed (<see cref="BlockwiseOptions.FusedTiles"/>). A tile is the
/// queries at positions [q0, q0 + bq) against the keys at [k0, k0 + bk), with no mask or a causal one:
/// 1. hidden: every key is after every query (k0 &gt; q0 + bq − 1): nothing to compute (null);
/// 2. full: every key is at or before every query (k0 + bk − 1 ≤ q0): one fused call without a mask;
/// 3. diagonal: the same positions (q0 = k0, bq = bk): one fused call with the kernel's causal flag;
/// 4. otherwise (a tile the diagonal cuts unevenly): the per-tile teaching form with the mask (<see cref="AttentionTile"/>).
/// Each computed tile returns its output (in the kernel's dtype: q's for fused tiles, float32 for the per-tile form) and
/// log-sum-exp (<see cref="FusedKernels.AttentionWithLogSumExp"/>); the caller merges tiles in place with
/// <see cref="LogSumExpMerge.MergeInto"/>, in its accumulator's dtype. Forward only: the kernels do not differentiate the
/// log-sum-exp, so a merge of fused tiles does not back-propagate exactly; the teaching forms do (and the tiled form's
/// recomputing backward).
/// </summary>
internal static class FusedTile
{
    /// <summary>Whether fused tiles can serve these options: no score modifier, and no mask or a causal one.</summary>
    public static bool Supports(BlockwiseOptions options) =>
        options.ScoreMod is null && (options.Mask is null || options.Mask.Kind is MaskKind.Causal or MaskKind.Full);

    /// <summary>Steps 1–4 for q (B, Hq, bq, D) at query positions q0… and k, v (B, Hkv, bk, ·) at key positions k0…; null when hidden.</summary>
    public static PartialAttention? Partial(Tensor q, Tensor k, Tensor v, long q0, long k0, AttentionMask? mask, double scale)
    {
        long bq = q.shape[2], bk = k.shape[2];
        bool causal = mask is not null && mask.Kind == MaskKind.Causal;
        if (causal && k0 > q0 + bq - 1) return null;                                        // 1.
        using var scope = torch.NewDisposeScope();
        PartialAttention part;
        if (!causal || k0 + bk - 1 <= q0)
        {
            var (o, l) = FusedKernels.AttentionWithLogSumExp(q, k, v, false, scale);         // 2.
            part = new PartialAttention(o, l);
        }
        else if (q0 == k0 && bq == bk)
        {
            var (o, l) = FusedKernels.AttentionWithLogSumExp(q, k, v, true, scale);          // 3.
            part = new PartialAttention(o, l);
        }
        else
            part = AttentionTile.PartialUnchecked(q, k, v, AttentionTile.Range(q0, bq, q.device), AttentionTile.Range(k0, bk, k.device), mask, null, scale); // 4.
        return part.MoveToOuterDisposeScope();
    }

    /// <summary>The maximal runs of consecutive positions, in order: (start index in the array, first position, length).</summary>
    public static List<(int Index, long Start, int Length)> Runs(long[] positions)
    {
        var runs = new List<(int, long, int)>();
        for (int i = 0; i < positions.Length;)
        {
            int j = i + 1;
            while (j < positions.Length && positions[j] == positions[j - 1] + 1) j++;
            runs.Add((i, positions[i], j - i));
            i = j;
        }
        return runs;
    }

    /// <summary>
    /// Attention of queries at <paramref name="qPositions"/> over keys at <paramref name="kPositions"/> (each a few
    /// consecutive runs, as contiguous and zig-zag ring layouts give): every query run against every key run by
    /// steps 1–4, merged in place per query run (<see cref="LogSumExpMerge.MergeInto"/>): (B, Hq, Nq, Dv) in q's dtype.
    /// </summary>
    public static PartialAttention RunPairs(Tensor q, Tensor k, Tensor v, long[] qPositions, long[] kPositions, AttentionMask? mask, double scale)
    {
        using var scope = torch.NewDisposeScope();
        long[] qs = q.shape;
        var output = torch.zeros([qs[0], qs[1], qs[2], v.shape[3]], q.dtype, q.device);    // (B, Hq, Nq, Dv)
        var lse = torch.full([qs[0], qs[1], qs[2]], double.NegativeInfinity, ScalarType.Float32, q.device);
        foreach (var (qi, q0, qn) in Runs(qPositions))
        {
            var qRun = q.narrow(2, qi, qn);
            var (o, l) = (output.narrow(2, qi, qn), lse.narrow(2, qi, qn));
            foreach (var (ki, k0, kn) in Runs(kPositions))
                if (Partial(qRun, k.narrow(2, ki, kn), v.narrow(2, ki, kn), q0, k0, mask, scale) is { } p)
                    LogSumExpMerge.MergeInto(o, l, p.Output, p.LogSumExp);
        }
        return new PartialAttention(output, lse).MoveToOuterDisposeScope();
    }
}
