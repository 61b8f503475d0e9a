using AttnKit.Core;

namespace AttnKit.Attention.Blockwise;

/// <summary>The cost of one way of computing attention: how often it walks the keys, what it moves, what it computes.</summary>
/// <param name="Name">"3-pass (materialized)", "2-pass", "1-pass (online)".</param>
/// <param name="Passes">Passes over the keys (and the N × N score space) per query block.</param>
/// <param name="Flops">Matrix-multiply FLOPs (2 per multiply-add), recomputation included.</param>
/// <param name="Exponentials">exp evaluations.</param>
/// <param name="BytesMoved">Bytes read and written to main memory: q, k, v, o and any N × N intermediate.</param>
public sealed record PassCost(string Name, int Passes, double Flops, double Exponentials, double BytesMoved)
{
    /// <summary>FLOPs per byte moved: above the machine's FLOPs-to-bandwidth ratio, compute-bound.</summary>
    public double ArithmeticIntensity => Flops / BytesMoved;
}

/// <summary>
/// A small model of attention's passes, in the einsum view of Nayak et al., "FuseMax: Leveraging Extended Einsums to
/// Optimize Attention Accelerator Design", 2024 (arXiv 2406.10491), §3–4. Written as a cascade of einsums, softmax
/// attention needs the row maximum before the exponentials and the row sum before normalizing, so a direct cascade
/// walks the keys three times (max, sum, output), a cascade with an online normalizer twice, and the cascade with a
/// running rescaled output (FlashAttention's) once. Fewer passes means fewer reads of k and v, no N × N intermediate in
/// main memory, and a higher arithmetic intensity. For one head, N queries and keys, head dim D, query blocks of B_r,
/// elements of e bytes:
/// 1. 3-pass, materialized: S = QKᵀ is written (N²), read for the max and the exponentials, P written and read for
///    PV: 4N²e bytes of intermediates plus 4NDe of q, k, v, o; 4N²D FLOPs, N² exponentials;
/// 2. 2-pass: pass 1 computes QKᵀ for the running max and sum (online normalizer), pass 2 recomputes QKᵀ for PV:
///    k is read twice and v once per query block, (N/B_r)·3ND e + 2ND e bytes, 6N²D FLOPs, 2N² exponentials;
/// 3. 1-pass (online softmax): k and v read once per query block, (N/B_r)·2ND e + 2ND e bytes, 4N²D FLOPs,
///    N² exponentials plus the rescalings of the running output (what FlashAttention-4's conditional rescaling trims).
/// </summary>
public static class AttentionPasses
{
    /// <summary>The three cascades for one head (steps 1–3).</summary>
    public static IReadOnlyList<PassCost> Compare(long tokens, long headDim, long queryBlock, int elementBytes = 2)
    {
        Check.Positive(tokens, nameof(tokens));
        Check.Positive(headDim, nameof(headDim));
        Check.Positive(queryBlock, nameof(queryBlock));
        Check.Positive(elementBytes, nameof(elementBytes));
        double n = tokens, d = headDim, e = elementBytes, blocks = Math.Ceiling(n / queryBlock);
        return
        [
            new("3-pass (materialized)", 3, 4 * n * n * d, n * n, 4 * n * n * e + 4 * n * d * e),          // 1.
            new("2-pass (online normalizer)", 2, 6 * n * n * d, 2 * n * n, blocks * 3 * n * d * e + 2 * n * d * e), // 2.
            new("1-pass (online softmax)", 1, 4 * n * n * d, n * n, blocks * 2 * n * d * e + 2 * n * d * e),   // 3.
        ];
    }
}
