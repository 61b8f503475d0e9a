using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.KvLayouts;

/// <summary>The spectrum of one layer's W_Q·W_Kᵀ and its Marchenko–Pastur diagnostics.</summary>
/// <param name="Eigenvalues">Eigenvalues of M·Mᵀ/d for M = W_Q·W_Kᵀ (d × d), largest first.</param>
/// <param name="MpEdge">The upper edge λ₊ = 4·mean(λ) of the Marchenko–Pastur law (ratio 1) with the same mean.</param>
/// <param name="Outliers">Eigenvalues above the edge: directions that stand out of the random bulk.</param>
/// <param name="StableRank">Σλ / λ_max: how many directions carry the energy (small after rank collapse).</param>
public sealed record SpectrumDiagnostics(double[] Eigenvalues, double MpEdge, int Outliers, double StableRank)
{
    /// <summary>The top eigenvalue over the MP edge (above 1: a spike).</summary>
    public double SpikeRatio => Eigenvalues[0] / MpEdge;
}

/// <summary>
/// The random-matrix view of a layer's query–key map. Jha and Reagen, "A Random Matrix Theory Perspective on the
/// Learning Dynamics of Multi-head Latent Attention", 2025 (arXiv 2507.09394), section 3. Scores are xᵢᵀ·W_Q·W_Kᵀ·xⱼ
/// (before RoPE); at initialisation W_Q·W_Kᵀ looks like a random matrix, whose squared singular values follow a
/// Marchenko–Pastur-like bulk; training grows outliers above the bulk's edge, and when a few outliers take most of the
/// energy (low stable rank) the layer's capacity has collapsed into a narrow subspace. The paper finds this in MHA and
/// MLA-PreRoPE and not in MLA with a decoupled rotary key.
///
/// 1. per-head maps x → q_h, x → k_h: W_q,h, W_k,h (D, d) (GQA heads repeated; MLA: the up-projection times the latent's down-projection, with the shared rotary key);
/// 2. M = W_Q·W_Kᵀ = Σ_h W_q,hᵀ·W_k,h (d × d);
/// 3. λ = eig(M·Mᵀ/d) = σ(M)²/d; MP edge 4·mean(λ) for a d × d matrix; outliers above it; stable rank Σλ/λ_max.
/// </summary>
public static class QueryKeySpectrum
{
    /// <summary>Step 1: (W_q, W_k) as (H, D, d) each, for a <see cref="LlamaAttention"/> or <see cref="MultiHeadLatentAttention"/> layer.</summary>
    public static (Tensor Wq, Tensor Wk) Maps(DecoderAttention layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        switch (layer)
        {
            case LlamaAttention a:
            {
                var (hq, hkv, d) = a.Heads;
                var (q, k, _, _) = a.Projections;
                var wq = q.weight!.detach().view(hq, d, -1);                                // (H, D, d)
                var wk = k.weight!.detach().view(hkv, d, -1).repeat_interleave(hq / hkv, dim: 0); // (H, D, d)
                return (wq.clone().MoveToOuterDisposeScope(), wk.MoveToOuterDisposeScope());
            }
            case MultiHeadLatentAttention m:
            {
                var (wq, wk) = m.QueryKeyMaps();
                return (wq.MoveToOuterDisposeScope(), wk.MoveToOuterDisposeScope());
            }
            default:
                throw new ArgumentException($"{nameof(layer)}: expected LlamaAttention or MultiHeadLatentAttention, got {layer.GetType().Name}", nameof(layer));
        }
    }

    /// <summary>Step 2: M = W_Q·W_Kᵀ (d × d), float32.</summary>
    public static Tensor Product(DecoderAttention layer)
    {
        using var scope = torch.NewDisposeScope();
        var (wq, wk) = Maps(layer);
        long model = wq.shape[2];
        var q = wq.to(ScalarType.Float32).reshape(-1, model);                              // (H·D, d)
        var k = wk.to(ScalarType.Float32).reshape(-1, model);                              // (H·D, d)
        return torch.matmul(q.t(), k).MoveToOuterDisposeScope();                           // 2. (d, d)
    }

    /// <summary>Step 3 for one layer.</summary>
    public static SpectrumDiagnostics Diagnose(DecoderAttention layer)
    {
        using var scope = torch.NewDisposeScope();
        var m = Product(layer).to(ScalarType.Float64).cpu();
        long d = m.shape[0];
        var s = torch.linalg.svdvals(m);                                                    // (d), descending
        var lambda = (s * s / d).data<double>().ToArray();                                  // 3.
        double mean = lambda.Average();
        double edge = 4 * mean;
        double top = Math.Max(lambda[0], double.Epsilon);
        return new SpectrumDiagnostics(lambda, edge, lambda.Count(x => x > edge), lambda.Sum() / top);
    }

    /// <summary>The Marchenko–Pastur density of ratio 1 and mean <paramref name="mean"/> at <paramref name="x"/>: √(x(4m − x))/(2π·m·x) on (0, 4m).</summary>
    public static double MarchenkoPasturDensity(double x, double mean)
    {
        Check.PositiveFinite(mean, nameof(mean));
        if (x <= 0 || x >= 4 * mean) return 0;
        return Math.Sqrt(x * (4 * mean - x)) / (2 * Math.PI * mean * x);
    }
}
