using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Models;

/// <summary>
/// Root-mean-square layer normalisation. Zhang and Sennrich, "Root Mean Square Layer Normalization", 2019
/// (arXiv 1910.07467), eq. (4): y = x / √(mean(x²) + ε) · g. Computed in float32 and returned in x's dtype, as Llama does.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double eps;

    /// <summary>A norm over the last axis of width <paramref name="dim"/>, gain initialised to 1.</summary>
    public RmsNorm(int dim, double eps = 1e-5, Device? device = null, ScalarType? dtype = null) : base(nameof(RmsNorm))
    {
        Check.Positive(dim, nameof(dim));
        Check.PositiveFinite(eps, nameof(eps));
        this.eps = eps;
        weight = new Parameter(torch.ones(dim, dtype ?? Kit.DType, device ?? Kit.Device));
        RegisterComponents();
    }

    /// <summary>The gain g.</summary>
    public Parameter Weight => weight;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (!torch.is_grad_enabled() && Attention.FusedKernels.RmsNorm(x, weight, eps) is Tensor fused) return fused; // decoding: one call, the same operations
        using var scope = torch.NewDisposeScope();
        var xf = x.to(ScalarType.Float32);
        var y = xf * torch.rsqrt(xf.pow(2).mean([-1], keepdim: true) + eps);
        return (y.to(x.dtype) * weight).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// The SwiGLU feed-forward block. Shazeer, "GLU Variants Improve Transformer", 2020 (arXiv 2002.05202), eq. (6):
/// FFN(x) = (SiLU(x·W_gate) ⊙ x·W_up)·W_down.
/// </summary>
public sealed class SwiGlu : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj, up_proj, down_proj;   // Hugging Face names

    /// <summary>A block of width <paramref name="dim"/> with hidden width <paramref name="hidden"/>, no biases.</summary>
    public SwiGlu(int dim, int hidden, Device? device = null, ScalarType? dtype = null) : base(nameof(SwiGlu))
    {
        Check.Positive(dim, nameof(dim));
        Check.Positive(hidden, nameof(hidden));
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        gate_proj = nn.Linear(dim, hidden, false, dev, dt);
        up_proj = nn.Linear(dim, hidden, false, dev, dt);
        down_proj = nn.Linear(hidden, dim, false, dev, dt);
        RegisterComponents();
    }

    /// <summary>W_gate, W_up and W_down.</summary>
    public (Linear Gate, Linear Up, Linear Down) Projections => (gate_proj, up_proj, down_proj);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return down_proj.forward(nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }
}
