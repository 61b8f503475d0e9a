using AttnKit.Cache.Policies;
using AttnKit.Core;
using AttnKit.Models;

namespace AttnKit.Cache.Evaluation;

/// <summary>What a policy's cache is built for: a budget and the shape of the sequence it will see.</summary>
/// <param name="Fraction">The budget as a fraction of the sequence.</param>
/// <param name="Tokens">The budget in tokens per (row, KV head): round(Fraction · SequenceLength), at least 1.</param>
/// <param name="ContextLength">Tokens prefilled in one pass (then compressed).</param>
/// <param name="SequenceLength">Tokens fed in all (prefill and decoding).</param>
public sealed record BudgetPlan(double Fraction, int Tokens, int ContextLength, int SequenceLength);

/// <summary>A named cache policy for <see cref="CacheEvaluation.Sweep"/>: a per-layer cache factory for each budget.</summary>
/// <param name="Name">The name charts and tables show.</param>
/// <param name="Make">The per-layer factory of caches for a budget.</param>
public sealed record CachePolicy(string Name, Func<BudgetPlan, Func<int, LayerCache>> Make)
{
    /// <summary>
    /// A score-then-keep policy under one budget of <see cref="BudgetPlan.Tokens"/> with <paramref name="sinks"/> sinks and a
    /// window of <paramref name="window"/> recent tokens (both shrunk to fit a tiny budget).
    /// </summary>
    public static CachePolicy Scored(string name, Func<int, TokenScorer> scorer, int sinks = 1, int window = 1)
    {
        Check.NonNegative(sinks, nameof(sinks));
        Check.NonNegative(window, nameof(window));
        return new(name, plan => PolicyCache.Factory(scorer, Fit(plan.Tokens, sinks, window)));
    }

    /// <summary>A budget of <paramref name="tokens"/> that holds as many of the sinks and window as fit (the window first).</summary>
    internal static CacheBudget Fit(int tokens, int sinks, int window)
    {
        int w = Math.Min(window, tokens), s = Math.Min(sinks, tokens - w);
        return new CacheBudget { Tokens = tokens, Sinks = s, Window = w };
    }
}

/// <summary>
/// The policies of <c>Cache/Policies</c> set up for a like-for-like sweep: the same budget in tokens, one attention sink
/// and one recent token always kept. Where a policy's budget has another shape, the total is split so that it stays
/// within the budget where it can: H2O gives half to the recent tokens and half to heavy hitters, as the paper does;
/// SnapKV keeps its observation window (4 queries here, against the paper's 32, for prompts of tens of tokens; pooling
/// kernel 3 against 5) and the best-voted prefix tokens, compressing once at prefill, so while decoding it holds the
/// budget plus the generated tokens;
/// ShotKV gives the prompt and the generated tokens shares of the budget in proportion to their lengths; RaaS keeps the
/// whole prompt by design and gives the generated tokens what the budget leaves (at least 1), so below the context's
/// share it holds more than the budget (<see cref="CacheScore.Kept"/> shows it); LazyEviction evicts in bursts every 8
/// steps, holding up to 7 tokens over the budget in between. Left out: Neural Attention Search, whose deletion roles
/// come from a predictor trained with the model (an untrained one deletes at random), and PyramidKV, whose average
/// budget leaves the top layer a quarter of it even when the average covers the whole sequence (so it never equals the
/// full cache; in a two-layer model the top layer is the recall layer).
/// </summary>
public static class CachePolicies
{
    /// <summary>SnapKV's observation window in the sweep (the paper's 32 scaled to prompts of tens of tokens).</summary>
    public const int SnapKvWindow = 4;

    /// <summary>StreamingLLM, H2O, A2SF, SnapKV, L2 norm, Expected Attention, CAOTE, ShotKV, LazyEviction, RaaS for <paramref name="model"/>.</summary>
    public static IReadOnlyList<CachePolicy> Standard(TinyLm model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var rope = model.Rope;
        return
        [
            CachePolicy.Scored("StreamingLLM", _ => new StreamingLlm()),
            new("H2O", plan => PolicyCache.Factory(_ => new HeavyHitterOracle(), HeavyHitterOracle.Budget(plan.Tokens))),
            CachePolicy.Scored("A2SF", _ => new A2sf(0.9)),
            new("SnapKV", plan => PolicyCache.Factory(_ => new SnapKv(Math.Min(SnapKvWindow, plan.Tokens), 3), SnapKv.Budget(plan.Tokens))),
            CachePolicy.Scored("L2 norm", _ => new KeyNorm()),
            CachePolicy.Scored("Expected Attention", _ => new ExpectedAttention(rope, 8, 8)),
            CachePolicy.Scored("CAOTE", _ => new Caote()),
            new("ShotKV", plan =>
            {
                int prompt = Math.Clamp((int)Math.Round((double)plan.Tokens * plan.ContextLength / plan.SequenceLength), 1, Math.Max(1, plan.Tokens - 1));
                return PolicyCache.Factory(_ => new ShotKv(), ShotKv.Budget(prompt, Math.Max(1, plan.Tokens - prompt)));
            }),
            new("LazyEviction", plan => PolicyCache.Factory(_ => new LazyEviction(), LazyEviction.Budget(plan.Tokens))),
            new("RaaS", plan => PolicyCache.Factory(_ => new Raas(), Raas.Budget(Math.Max(1, plan.Tokens - plan.ContextLength)))),
        ];
    }
}
