using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// The L2-norm strategy: Devoto et al., "A Simple and Effective L2 Norm-Based Strategy for KV Cache Compression", 2024
/// (arXiv 2406.11430), section 3–4. In trained models, keys with a small L2 norm tend to receive high attention, so
/// the norm alone ranks tokens, with no attention weights needed (it works with fused kernels that never form them).
/// 1. score = −‖k‖₂ per (row, KV head, token): the lowest-norm keys are kept.
/// </summary>
public sealed class KeyNorm : TokenScorer
{
    /// <inheritdoc/>
    public override string Name => "L2 norm";

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context) => Scores(context.Keys);

    /// <summary>Step 1 for keys (B, H, L, D): −‖k‖₂, (B, H, L) float32.</summary>
    public static Tensor Scores(Tensor keys)
    {
        Core.Check.Rank(keys, 4, nameof(keys), "(B, H, L, D)");
        Core.Check.FloatingPoint(keys, nameof(keys));
        using var scope = torch.NewDisposeScope();
        return keys.to(ScalarType.Float32).norm(-1, false, 2).neg().MoveToOuterDisposeScope();   // 1.
    }
}
