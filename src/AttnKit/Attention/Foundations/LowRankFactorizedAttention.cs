using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// LAMA, low-rank factorized multi-head attention pooling. Mehta, Rangwala and Ramakrishnan, "Low Rank Factorization
/// for Compact Multi-Head Self-Attention", 2019 (arXiv 1912.00835): over the states h_i of a sequence encoder, one
/// global context vector c (the mean state) is the query, and a low-rank bilinear form gives all M heads' scores at
/// once, f(c, h_i) = Pᵀ tanh(Uᵀc ∘ Vᵀh_i), with U, V (D, K) shared by the heads and P (K, M) reading one score per head
/// (low-rank bilinear pooling, Kim et al., 2016, arXiv 1610.04325), so a head costs K parameters instead of a full
/// bilinear D×D matrix.
/// 1. c = mean_i h_i (B, D) (padding excluded);
/// 2. scores f_i = Pᵀ tanh((c·U) ∘ (h_i·V)) (B, N, M);
/// 3. per head, a = softmax over the tokens (B, M, 1, N);
/// 4. the sentence matrix: each head's weighted sum of the states (B, M, D).
/// </summary>
public sealed class LowRankFactorizedAttention : nn.Module
{
    private readonly Parameter u, v, p;

    /// <summary>States of width <paramref name="modelDim"/>, bilinear rank <paramref name="rank"/> (K), <paramref name="heads"/> heads (M).</summary>
    public LowRankFactorizedAttention(int modelDim, int rank, int heads, Device? device = null) : base(nameof(LowRankFactorizedAttention))
    {
        Check.Positive(modelDim, nameof(modelDim));
        Check.Positive(rank, nameof(rank));
        Check.Positive(heads, nameof(heads));
        var dev = device ?? Kit.Device;
        (ModelDim, Rank, Heads) = (modelDim, rank, heads);
        u = nn.Parameter(torch.randn(modelDim, rank, device: dev) / Math.Sqrt(modelDim));
        v = nn.Parameter(torch.randn(modelDim, rank, device: dev) / Math.Sqrt(modelDim));
        p = nn.Parameter(torch.randn(rank, heads, device: dev) / Math.Sqrt(rank));
        RegisterComponents();
    }

    /// <summary>Width D.</summary>
    public int ModelDim { get; }
    /// <summary>Rank K of the bilinear form.</summary>
    public int Rank { get; }
    /// <summary>Number M of heads.</summary>
    public int Heads { get; }

    /// <summary>Parameters of the scoring: 2·D·K + K·M, against M·D·D for M full bilinear heads.</summary>
    public long ScoringParameters => 2L * ModelDim * Rank + (long)Rank * Heads;

    /// <summary>States (B, N, D), optional (B, N) mask → the sentence matrix (B, M, D) and the weights (B, M, 1, N).</summary>
    public PoolingResult Forward(Tensor states, Tensor? allowed = null)
    {
        PoolingResult.CheckTokens(states, allowed, ModelDim, u);
        using var scope = torch.NewDisposeScope();
        long b = states.shape[0], n = states.shape[1];
        var keep = allowed is null ? torch.ones(b, n, 1, states.dtype, states.device) : allowed.to(states.dtype).unsqueeze(-1); // (B, N, 1)
        var c = (states * keep).sum(1) / keep.sum(1).clamp_min(1);                      // 1. (B, D)
        var f = torch.matmul((torch.matmul(c, u).unsqueeze(1) * torch.matmul(states, v)).tanh(), p); // 2. (B, N, M)
        var a = ScoreAttention.Weights(f.transpose(1, 2).unsqueeze(2), allowed?.view(b, 1, 1, n)); // 3. (B, M, 1, N)
        var m = torch.matmul(a.squeeze(2), states.to(ScalarType.Float32)).to(states.dtype); // 4. (B, M, D)
        return new PoolingResult(m, a).MoveToOuterDisposeScope();
    }
}
