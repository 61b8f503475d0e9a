using AttnKit.Core;

namespace AttnKit.Cache.Policies;

/// <summary>
/// PyramidKV's per-layer budgets: Cai et al., "PyramidKV: Dynamic KV Cache Compression based on Pyramidal Information
/// Funneling", 2024 (arXiv 2406.02069), section 4. Lower layers spread their attention widely and upper layers focus
/// on a few tokens, so the budget shrinks with depth while the total stays that of a uniform budget.
/// 1. the top layer gets k_min = average / β, the bottom one k_max = 2·average − k_min;
/// 2. layers in between follow the arithmetic sequence from k_max down to k_min.
/// Used with <see cref="SnapKv"/> scores (as in the paper) or any other scorer, through <see cref="PolicyCache.Factory(Func{int, TokenScorer}, IReadOnlyList{CacheBudget})"/>.
/// </summary>
public static class PyramidKv
{
    /// <summary>Token budgets per layer averaging <paramref name="average"/> (β = <paramref name="beta"/> ≥ 1; 1 is uniform).</summary>
    public static int[] Tokens(int layers, int average, double beta = 4)
    {
        Check.Positive(layers, nameof(layers));
        Check.Positive(average, nameof(average));
        if (!(beta >= 1) || double.IsInfinity(beta)) throw new ArgumentException($"{nameof(beta)}: expected β ≥ 1, got {beta}", nameof(beta));
        double kmin = average / beta, kmax = 2.0 * average - kmin;                                    // 1.
        if (layers == 1) return [average];
        return Enumerable.Range(0, layers).Select(i => Math.Max(1, (int)Math.Round(kmax - (kmax - kmin) * i / (layers - 1)))).ToArray(); // 2.
    }

    /// <summary>One <see cref="CacheBudget"/> per layer: <paramref name="template"/> with the layer's token budget (at least its sinks and window).</summary>
    public static CacheBudget[] Budgets(int layers, CacheBudget template, double beta = 4)
    {
        ArgumentNullException.ThrowIfNull(template);
        int floor = template.Sinks + template.Window;
        return Tokens(layers, template.Tokens, beta).Select(t => template with { Tokens = Math.Max(floor, t) }).ToArray();
    }
}
