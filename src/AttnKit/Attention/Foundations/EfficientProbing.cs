using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// Efficient probing (EP): multi-query cross-attention without projections. Psomas et al., "Attention, Please!
/// Revisiting Attentive Probing for Masked Image Modeling", 2025 (arXiv 2506.10178): a probe on frozen patch tokens in
/// which M learned queries live in the tokens' own space and score the tokens directly. A multi-head cross-attention
/// probe whose query comes from a learned vector u computes (u W_q,h)·(x W_k,h)ᵀ = (W_k,h W_q,hᵀ u)·x, so its
/// query and key projections fold into one learned query per head (<see cref="EquivalentQueries"/>): EP keeps only those.
/// 1. a_m = softmax_j(q_m · x_j · scale) over the N tokens, for each of the M learned queries (M, D);
/// 2. each query aggregates its own slice of the features: y_m = Σ_j a_mj x_j[m-th slice of width D/M];
/// 3. y = [y_1; …; y_M] (B, D) goes to a linear classifier.
/// (My reading of the paper's figure 1: the values are the tokens themselves, split across the queries as the heads of
/// a multi-head probe split them.)
/// </summary>
public sealed class EfficientProbing : nn.Module
{
    private readonly TorchSharp.Modules.Parameter queries;

    /// <summary>A probe over tokens of width <paramref name="modelDim"/> with <paramref name="queryCount"/> learned queries (dividing the width).</summary>
    public EfficientProbing(int modelDim, int queryCount, Device? device = null) : base(nameof(EfficientProbing))
    {
        Check.Positive(modelDim, nameof(modelDim));
        Check.Positive(queryCount, nameof(queryCount));
        if (modelDim % queryCount != 0)
            throw new ArgumentException($"{nameof(queryCount)}: expected a divisor of the width {modelDim} (each query aggregates a slice), got {queryCount}", nameof(queryCount));
        ModelDim = modelDim;
        QueryCount = queryCount;
        queries = nn.Parameter(torch.randn(queryCount, modelDim, device: device ?? Kit.Device) / Math.Sqrt(modelDim));
        RegisterComponents();
    }

    /// <summary>Width D of the tokens.</summary>
    public int ModelDim { get; }
    /// <summary>Number M of learned queries.</summary>
    public int QueryCount { get; }
    /// <summary>The learned queries (M, D).</summary>
    public Tensor Queries => queries;

    /// <summary>Tokens (B, N, D), optional (B, N) mask → y (B, D) and the weights (B, M, 1, N).</summary>
    public PoolingResult Forward(Tensor tokens, Tensor? allowed = null) => Pool(tokens, queries, allowed);

    /// <summary>Steps 1–3 for given queries (M, D) with score scale 1/√D (or <paramref name="scale"/>).</summary>
    public static PoolingResult Pool(Tensor tokens, Tensor queries, Tensor? allowed = null, double? scale = null)
    {
        Check.Rank(queries, 2, nameof(queries), "(M, D)");
        PoolingResult.CheckTokens(tokens, allowed, queries.shape[1], queries);
        long m = queries.shape[0], d = queries.shape[1];
        if (d % m != 0) throw new ArgumentException($"{nameof(queries)}: expected the width {d} to be a multiple of the {m} queries", nameof(queries));
        if (scale is double sc) Check.PositiveFinite(sc, nameof(scale));
        using var scope = torch.NewDisposeScope();
        long b = tokens.shape[0], n = tokens.shape[1];
        var s = torch.matmul(tokens, queries.t()).transpose(1, 2).unsqueeze(2) * (scale ?? 1.0 / Math.Sqrt(d)); // (B, M, 1, N)
        var a = ScoreAttention.Weights(s, allowed?.view(b, 1, 1, n));                   // 1. (B, M, 1, N)
        var slices = tokens.view(b, n, m, d / m).permute(0, 2, 1, 3);                   // (B, M, N, D/M)
        var y = torch.matmul(a, slices.to(ScalarType.Float32)).squeeze(2);              // 2. (B, M, D/M)
        return new PoolingResult(y.reshape(b, d).to(tokens.dtype), a).MoveToOuterDisposeScope(); // 3. (B, D)
    }

    /// <summary>
    /// The queries (H, D) that give a multi-head probe's scores: u (D), wq and wk (D, H·Dh) as x·W → q_h = W_k,h·(W_q,hᵀ·u).
    /// </summary>
    public static Tensor EquivalentQueries(Tensor u, Tensor wq, Tensor wk, int heads)
    {
        Check.Rank(u, 1, nameof(u), "(D)");
        Check.Rank(wq, 2, nameof(wq), "(D, H·Dh)");
        Check.Rank(wk, 2, nameof(wk), "(D, H·Dh)");
        Check.Positive(heads, nameof(heads));
        Check.Dim(wq, 0, u.shape[0], nameof(wq), "rows D = u's width");
        Check.Dim(wk, 0, u.shape[0], nameof(wk), "rows D = u's width");
        Check.Dim(wk, 1, wq.shape[1], nameof(wk), "columns H·Dh like wq");
        if (wq.shape[1] % heads != 0) throw new ArgumentException($"{nameof(heads)}: expected a divisor of wq's {wq.shape[1]} columns, got {heads}", nameof(heads));
        using var scope = torch.NewDisposeScope();
        long d = u.shape[0], dh = wq.shape[1] / heads;
        var qh = torch.matmul(u, wq).view(heads, dh);                                   // (H, Dh): u·W_q per head
        var wkh = wk.view(d, heads, dh).permute(1, 0, 2);                               // (H, D, Dh)
        return torch.matmul(wkh, qh.unsqueeze(-1)).squeeze(-1).MoveToOuterDisposeScope(); // (H, D)
    }
}
