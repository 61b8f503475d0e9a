using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// LazyEviction: Zhang et al., "LazyEviction: Lagged KV Eviction with Attention Pattern Observation for Efficient Long
/// Reasoning", 2025 (arXiv 2506.15969), section 4. In long reasoning many tokens regain attention after long silences
/// (token importance recurrence); evicting at every step on the current attention drops them just before they are
/// needed again. LazyEviction observes for a window of steps and evicts in a burst, keeping tokens whose recurrence
/// interval says they are likely to return.
/// 1. a token is important at a step when its attention exceeds <see cref="Threshold"/> × the uniform weight 1/L;
/// 2. recurrence tracking: at an important step, MRI ← max(MRI, step − last important step), last ← step
///    (a new token starts with last = its own step, MRI = 0);
/// 3. lagged eviction: compress only every <see cref="CacheBudget.Interval"/> steps (the observation window;
///    <see cref="Budget"/>);
/// 4. priority: score = MRI − (step − last): a token silent for less than its usual interval is kept, one silent for
///    longer than it ever was is evicted first, ties to the more recent. This is our closed form of the paper's
///    MRI-centric rule.
/// </summary>
public sealed class LazyEviction : TokenScorer
{
    /// <summary>LazyEviction with the importance threshold <paramref name="threshold"/> (relative to uniform attention).</summary>
    public LazyEviction(double threshold = 1.0)
    {
        Check.PositiveFinite(threshold, nameof(threshold));
        Threshold = threshold;
    }

    /// <summary>Relative attention threshold of step 1.</summary>
    public double Threshold { get; }

    /// <inheritdoc/>
    public override string Name => "LazyEviction";

    /// <summary>A budget of <paramref name="tokens"/> evicting every <paramref name="observationWindow"/> steps (step 3).</summary>
    public static CacheBudget Budget(int tokens, int observationWindow = 8, int window = 1) =>
        new() { Tokens = tokens, Interval = observationWindow, Window = Math.Min(window, tokens) };

    /// <inheritdoc/>
    public override void Observe(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        double now = context.Step;
        var last = context.State("last", -1);
        var mri = context.State("mri");
        var fresh = last.lt(0);
        last = torch.where(fresh, now, last);                                                           // 2. new tokens
        var important = context.KvWeights.amax([2]).mul(Raas.ValidCount(context)).gt(Threshold).logical_and(fresh.logical_not()); // 1.
        var gap = now - last;
        context.SetState("mri", torch.where(important, torch.maximum(mri, gap), mri));                  // 2.
        context.SetState("last", torch.where(important, now, last));
    }

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        var silence = context.Step - context.State("last");
        return (context.State("mri") - silence + 1e-3 * context.Positions.to(ScalarType.Float32) / Math.Max(1, context.Seen)).MoveToOuterDisposeScope(); // 4.
    }
}
