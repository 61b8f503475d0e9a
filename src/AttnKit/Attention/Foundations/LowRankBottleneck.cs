using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// The head-size rule against the low-rank bottleneck. Bhojanapalli et al., "Low-Rank Bottleneck in Multi-head
/// Attention Models", 2020 (arXiv 2002.07028): a head's logits X W_q W_kᵀ Xᵀ (n × n) have rank at most its head size
/// d_h, and the usual d_h = d_model / h shrinks as heads are added, so with d_h &lt; n some attention patterns cannot be
/// expressed at all (their theorem 1); with d_h ≥ n and a full-rank input every positive row-stochastic pattern can.
/// The fix decouples the two: set d_h = n, the sequence length, whatever the number of heads.
/// 1. the usual rule: d_h = d_model / h;
/// 2. the fixed rule: d_h = n (each head's projections are then d_model × n);
/// 3. the rank that bounds a head: rank(q kᵀ) ≤ min(d_h, n).
/// </summary>
public static class LowRankBottleneck
{
    /// <summary>Step 1: d_model / h (the usual coupling).</summary>
    public static int UsualHeadSize(int modelDim, int heads)
    {
        Check.Positive(modelDim, nameof(modelDim));
        Check.Positive(heads, nameof(heads));
        if (modelDim % heads != 0) throw new ArgumentException($"{nameof(heads)}: expected a divisor of d_model = {modelDim}, got {heads}", nameof(heads));
        return modelDim / heads;                                                       // 1.
    }

    /// <summary>Step 2: a multi-head layer of <paramref name="heads"/> heads whose head size is the sequence length.</summary>
    public static MultiHeadAttentionConfig FixedHeadSizeConfig(int modelDim, int heads, int sequenceLength)
    {
        Check.Positive(modelDim, nameof(modelDim));
        Check.Positive(heads, nameof(heads));
        Check.Positive(sequenceLength, nameof(sequenceLength));
        return new MultiHeadAttentionConfig(modelDim, heads, HeadDim: sequenceLength); // 2.
    }

    /// <summary>Projection parameters of a layer (W_q, W_k, W_v, W_o): 4·d_model·h·d_h.</summary>
    public static long ProjectionParameters(int modelDim, int heads, int headSize)
    {
        Check.Positive(modelDim, nameof(modelDim));
        Check.Positive(heads, nameof(heads));
        Check.Positive(headSize, nameof(headSize));
        return 4L * modelDim * heads * headSize;
    }

    /// <summary>Step 3: the numerical rank of each head's logits q·kᵀ, q and k (B, H, N, D) → (B, H) int64.</summary>
    public static Tensor LogitRank(Tensor q, Tensor k)
    {
        Check.Rank(q, 4, nameof(q), "(B, H, N, D)");
        Check.Rank(k, 4, nameof(k), "(B, H, N, D)");
        Check.FloatingPoint(q, nameof(q));
        Check.SameDType(q, nameof(q), k, nameof(k));
        Check.SameDevice(q, nameof(q), k, nameof(k));
        Check.Dim(k, 0, q.shape[0], nameof(k), "batch B like q");
        Check.Dim(k, 1, q.shape[1], nameof(k), "heads H like q");
        Check.Dim(k, 3, q.shape[3], nameof(k), "head size D like q");
        using var scope = torch.NewDisposeScope();
        var logits = torch.matmul(q.to(ScalarType.Float64), k.to(ScalarType.Float64).transpose(-2, -1)); // (B, H, Nq, Nk)
        return torch.linalg.matrix_rank(logits).MoveToOuterDisposeScope();             // 3. (B, H)
    }
}
