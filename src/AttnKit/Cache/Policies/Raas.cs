using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// RaaS, reasoning-aware attention sparsity: Hu et al., "Efficient Long-Decoding Inference with Reasoning-Aware
/// Attention Sparsity", 2025 (arXiv 2502.11147), section 4. In long reasoning, "milestone" tokens are attended for a
/// while and then never again, so a token's last time of use predicts its usefulness (an LRU cache); prompt tokens can be
/// needed at any time ("phoenix" tokens) and are all kept.
/// 1. every new token gets the current step as its timestamp;
/// 2. at each step, a held token whose attention exceeds <see cref="Threshold"/> × the uniform weight 1/L gets the
///    current step as its timestamp;
/// 3. score = timestamp: the generated tokens unused for longest are evicted; the prompt is protected
///    (<see cref="Budget"/>: <see cref="CacheBudget.ProtectPrompt"/>), giving O(budget) memory and time per step.
/// </summary>
public sealed class Raas : TokenScorer
{
    /// <summary>RaaS where a token counts as used when its attention exceeds <paramref name="threshold"/> times the uniform weight.</summary>
    public Raas(double threshold = 1.0)
    {
        Check.PositiveFinite(threshold, nameof(threshold));
        Threshold = threshold;
    }

    /// <summary>Relative attention threshold of step 2.</summary>
    public double Threshold { get; }

    /// <inheritdoc/>
    public override string Name => "RaaS";

    /// <summary>A budget of <paramref name="tokens"/> generated tokens beside the whole prompt (never compressed).</summary>
    public static CacheBudget Budget(int tokens, int window = 1) => new() { Tokens = tokens, ProtectPrompt = true, Prefill = false, Window = Math.Min(window, tokens) };

    /// <inheritdoc/>
    public override void Observe(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        var stamp = context.State("stamp", -1);
        var fresh = stamp.lt(0);                                                                      // 1. slots added by this update
        var used = context.KvWeights.amax([2]).mul(ValidCount(context)).gt(Threshold);                // 2. (B, Hkv, L)
        context.SetState("stamp", torch.where(fresh.logical_or(used), (double)context.Step, stamp));
    }

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context) => context.State("stamp").alias();           // 3.

    internal static Tensor ValidCount(PolicyContext context) =>
        (context.Valid is null ? torch.full([1, 1, 1], (double)context.Length, device: context.Keys.device) : context.Valid.sum(-1, true).to(ScalarType.Float32));
}
