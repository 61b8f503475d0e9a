using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.KvLayouts;

/// <summary>The ranks of a tensor-product attention layer.</summary>
public sealed record TpaOptions
{
    /// <summary>R_Q: rank of the query factorisation (the paper's default 6).</summary>
    public int QueryRank { get; init; } = 6;
    /// <summary>R_K: rank of the key factorisation (default 2).</summary>
    public int KeyRank { get; init; } = 2;
    /// <summary>R_V: rank of the value factorisation (default 2).</summary>
    public int ValueRank { get; init; } = 2;
}

/// <summary>
/// Tensor product attention. Zhang, Liu, Yuan, Qin, Yuan, Gu and Yao, "Tensor Product Attention Is All You Need", 2025
/// (arXiv 2501.06425), section 3.1. Each token's query, key and value matrices (H heads × D) are sums of R contextual
/// rank-one outer products, Q_t = (1/R_Q)·Σ_r a_r(x_t) ⊗ b_r(x_t) with a_r ∈ R^H (how much each head takes) and
/// b_r ∈ R^D, both linear in x_t. Only the factors of K and V are cached: (R_K + R_V)·(H + D) elements per token
/// instead of 2·H·D. RoPE, being linear, can rotate b (the paper caches rotated B_K) or the expanded key (done here).
///
/// 1. factors: A_Q = x·W_aQ (B, N, R_Q, H), B_Q = x·W_bQ (B, N, R_Q, D); the same for K and V (eq. 3.2–3.4);
/// 2. queries: Q_t = (1/R_Q)·A_Qᵀ·B_Q (B, H, N, D) (eq. 3.1);
/// 3. cache [A_K | B_K] and [A_V | B_V] per token (one "head" each) through <see cref="DecoderAttention.Attend"/>;
/// 4. expand every held token: K_t = (1/R_K)·A_Kᵀ·B_K, V_t = (1/R_V)·A_Vᵀ·B_V (B, H, L, D); RoPE on the keys;
/// 5. attend per head, merge heads, ·W_O.
/// Names of the parameters: W_A_q, W_B_q … as in the paper's T6 code (W_A_q for W_aQ).
/// </summary>
public sealed class TensorProductAttention : DecoderAttention
{
    private readonly Linear W_A_q, W_B_q, W_A_k, W_B_k, W_A_v, W_B_v, o_proj;
    private readonly int h, d, rq, rk, rv;
    private readonly int modelDim;

    /// <summary>A layer for a model of <paramref name="config"/> (H heads of dim D) with the ranks of <paramref name="options"/>.</summary>
    public TensorProductAttention(TinyLmConfig config, TpaOptions? options = null, Device? device = null, ScalarType? dtype = null) : base(nameof(TensorProductAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        options ??= new TpaOptions();
        Check.Positive(options.QueryRank, nameof(options.QueryRank));
        Check.Positive(options.KeyRank, nameof(options.KeyRank));
        Check.Positive(options.ValueRank, nameof(options.ValueRank));
        (h, d, rq, rk, rv) = (config.Heads, config.Dim, options.QueryRank, options.KeyRank, options.ValueRank);
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        int m = config.ModelDim;
        W_A_q = nn.Linear(m, rq * h, false, dev, dt);
        W_B_q = nn.Linear(m, rq * d, false, dev, dt);
        W_A_k = nn.Linear(m, rk * h, false, dev, dt);
        W_B_k = nn.Linear(m, rk * d, false, dev, dt);
        W_A_v = nn.Linear(m, rv * h, false, dev, dt);
        W_B_v = nn.Linear(m, rv * d, false, dev, dt);
        o_proj = nn.Linear(h * d, m, false, dev, dt);
        modelDim = config.ModelDim;
        RegisterComponents();
    }

    /// <summary>(H, D, R_Q, R_K, R_V).</summary>
    public (int Heads, int HeadDim, int QueryRank, int KeyRank, int ValueRank) Shape => (h, d, rq, rk, rv);

    /// <inheritdoc/>
    public override long KvBytesPerToken(int elementBytes) => (long)(rk + rv) * (h + d) * elementBytes;

    /// <summary>Step 1–2 for one factor pair: (1/R)·Aᵀ·B from A (B, N, R·H) and B (B, N, R·D): (B, H, N, D).</summary>
    public static Tensor Contract(Tensor a, Tensor bFactor, int rank, int heads)
    {
        Check.Rank(a, 3, nameof(a), "(B, N, R·H)");
        Check.Rank(bFactor, 3, nameof(bFactor), "(B, N, R·D)");
        Check.Positive(rank, nameof(rank));
        Check.Positive(heads, nameof(heads));
        Check.Dim(a, 2, (long)rank * heads, nameof(a), "R·H");
        if (bFactor.shape[2] % rank != 0) throw new ArgumentException($"{nameof(bFactor)}: expected R·D channels for R = {rank}, got {bFactor.shape[2]}", nameof(bFactor));
        using var scope = torch.NewDisposeScope();
        long[] s = a.shape;
        var (b, n) = (s[0], s[1]);
        var av = a.view(b, n, rank, heads).transpose(2, 3);                                 // (B, N, H, R)
        var bv = bFactor.view(b, n, rank, -1);                                              // (B, N, R, D)
        var m = torch.matmul(av, bv) / rank;                                                // 2. (B, N, H, D) = (1/R)·Σ_r a_r ⊗ b_r
        return m.transpose(1, 2).MoveToOuterDisposeScope();                                 //    (B, H, N, D)
    }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, AttentionStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Check.Rank(x, 3, nameof(x), "(B, N, d)");
        Check.Dim(x, 2, modelDim, nameof(x), "the model width d");
        using var scope = torch.NewDisposeScope();
        long[] xs = x.shape;
        var (b, n) = (xs[0], xs[1]);
        var q = Contract(W_A_q.forward(x), W_B_q.forward(x), rq, h);                       // 1–2. (B, H, N, D)
        var kf = torch.cat([W_A_k.forward(x), W_B_k.forward(x)], 2).unsqueeze(1);          // 1.   (B, 1, N, R_K·(H + D))
        var vf = torch.cat([W_A_v.forward(x), W_B_v.forward(x)], 2).unsqueeze(1);          //      (B, 1, N, R_V·(H + D))
        var o = Attend(q, kf, vf, step, null, Expand);                                      // 3–5. (B, H, N, D)
        var y = o_proj.forward(o.transpose(1, 2).reshape(b, n, h * d));                    // 5.   (B, N, d)
        step.Weights?.MoveToOuterDisposeScope();
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Step 4: held factors → keys and values (B, H, L, D).</summary>
    private (Tensor, Tensor) Expand(Tensor kf, Tensor vf)
    {
        var (k2, v2) = (kf.squeeze(1), vf.squeeze(1));                                      // (B, L, R·(H + D))
        var k = Contract(k2.narrow(2, 0, rk * h), k2.narrow(2, rk * h, rk * d), rk, h);    // 4. (B, H, L, D)
        var v = Contract(v2.narrow(2, 0, rv * h), v2.narrow(2, rv * h, rv * d), rv, h);    //    (B, H, L, D)
        return (k, v);
    }
}
