using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Models.Training;

/// <summary>
/// Mixed-precision training with float32 master weights. Micikevicius et al., "Mixed Precision Training", 2017
/// (arXiv 1710.03740), section 3.1. TorchSharp 0.107 has no autocast, so the kit keeps two modules: the trained one
/// holds float32 weights (and AdamW's state is float32 beside them); a second module of the same architecture in
/// bfloat16 runs the forward and backward passes. bfloat16 has float32's exponent range, so no loss scaling is
/// needed (the paper's section 3.2 is for float16). Norms and the loss are computed in float32 inside the model.
///
/// Each step:
/// 1. copy the master weights into the bf16 module (rounding to bf16);
/// 2. forward and backward in bf16 (the caller);
/// 3. copy the bf16 gradients into the master weights' gradients as float32;
/// 4. clip and update the master weights in float32 (the caller).
/// </summary>
public sealed class MixedPrecision : IDisposable
{
    private readonly (Parameter Master, Parameter Compute)[] pairs;

    /// <summary>Pairs the parameters of <paramref name="master"/> and <paramref name="compute"/> by name (same architecture).</summary>
    public MixedPrecision(nn.Module master, nn.Module compute)
    {
        ArgumentNullException.ThrowIfNull(master);
        ArgumentNullException.ThrowIfNull(compute);
        Compute = compute;
        var byName = compute.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var list = new List<(Parameter, Parameter)>();
        foreach (var (name, p) in master.named_parameters())
        {
            if (!byName.Remove(name, out var c))
                throw new ArgumentException($"{nameof(compute)}: expected a module of the same architecture, it has no parameter {name}", nameof(compute));
            if (!p.shape.SequenceEqual(c.shape))
                throw new ArgumentException($"{nameof(compute)}: parameter {name} has shape ({string.Join(", ", c.shape)}), expected ({string.Join(", ", p.shape)})", nameof(compute));
            list.Add((p, c));
        }
        if (byName.Count > 0) throw new ArgumentException($"{nameof(compute)}: it has parameters the master lacks: {string.Join(", ", byName.Keys)}", nameof(compute));
        pairs = [.. list];
    }

    /// <summary>The module that runs the passes.</summary>
    public nn.Module Compute { get; }

    /// <summary>1. Copies the master weights into the compute module.</summary>
    public void Pull()
    {
        using var noGrad = torch.no_grad();
        foreach (var (m, c) in pairs) c.copy_(m);
    }

    /// <summary>3. Copies the compute module's gradients into the master weights' gradients (float32); a parameter without a gradient keeps none.</summary>
    public void PushGradients()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        foreach (var (m, c) in pairs)
        {
            var g = c.grad;
            if (g is null) continue;
            var mg = m.grad;
            if (mg is null) m.grad = g.to(m.dtype);
            else mg.copy_(g);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Compute.Dispose();
}
