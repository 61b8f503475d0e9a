using AttnKit.Attention.Foundations;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Phenomena;

/// <summary>
/// How noisy hard attention's gradient is. Xu et al., "Show, Attend and Tell", 2015 (arXiv 1502.03044), section 4.1:
/// hard attention learns from the score-function estimate (<see cref="HardAttention.ReinforceGradient"/>), which is
/// unbiased but noisy; the paper subtracts a baseline to reduce the variance. Soft attention's gradient is exact.
/// 1. one query over N locations with random logits and a reward per location (the log-likelihood the caption would
///    get from that location);
/// 2. for each sample count S, draw S locations, form the estimate with and without a baseline (the mean reward of an
///    independent batch of S draws, so the estimate stays unbiased);
/// 3. report the mean relative error ‖ĝ − g‖/‖g‖ against the exact gradient g over many trials.
/// </summary>
public static class HardAttentionGradients
{
    /// <summary>Steps 1–3: relative errors without and with a baseline, per sample count.</summary>
    public static (double[] Plain, double[] WithBaseline) Run(int locations = 16, int[]? sampleCounts = null, int trials = 200, int seed = 0)
    {
        Check.Positive(locations, nameof(locations));
        Check.Positive(trials, nameof(trials));
        sampleCounts ??= [1, 4, 16, 64, 256];
        foreach (var s in sampleCounts) Check.Positive(s, nameof(sampleCounts));
        using var scope = torch.NewDisposeScope();
        using var gen = new Generator((ulong)seed);
        var logits = torch.randn([1, 1, 1, locations], generator: gen);                    // 1. (1, 1, 1, N)
        var reward = torch.randn([1, 1, 1, locations], generator: gen) - 2;                //    log-likelihoods, mostly negative
        var exact = HardAttention.ExactGradient(logits, reward);
        double exactNorm = exact.norm().item<float>();
        var weights = logits.softmax(-1);
        var plain = new double[sampleCounts.Length];
        var based = new double[sampleCounts.Length];
        for (int i = 0; i < sampleCounts.Length; i++)
        {
            for (int t = 0; t < trials; t++)
            {
                using var inner = torch.NewDisposeScope();
                var idx = HardAttention.Sample(weights, sampleCounts[i], gen);             // 2. (1, 1, 1, S)
                var r = reward.expand(1, 1, 1, locations).gather(3, idx);
                var other = reward.expand(1, 1, 1, locations).gather(3, HardAttention.Sample(weights, sampleCounts[i], gen));
                var g0 = HardAttention.ReinforceGradient(logits, idx, r);
                var g1 = HardAttention.ReinforceGradient(logits, idx, r, other.mean([-1]));
                plain[i] += (g0 - exact).norm().item<float>() / exactNorm / trials;        // 3.
                based[i] += (g1 - exact).norm().item<float>() / exactNorm / trials;
            }
        }
        return (plain, based);
    }
}
