using AttnKit.Core;
using AttnKit.Models;
using AttnKit.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Evaluation;

/// <summary>One measurement of a cache on a task.</summary>
/// <param name="Cache">The cache's name ("full" for the growing cache).</param>
/// <param name="Budget">Fraction of the sequence's tokens the cache may hold (1: all; the full cache).</param>
/// <param name="Metric">The task's own metric (<see cref="ISyntheticTask.Score"/>) on the logits decoded through the cache: recall accuracy for MQAR, digit accuracy for passkey.</param>
/// <param name="Loss">Mean cross-entropy over the task's scored positions (nats): the training loss, on the cached logits.</param>
/// <param name="BytesPerToken">Cache bytes at the end (<see cref="ModelCache.StorageBytes"/>) over the tokens one sequence fed it.</param>
/// <param name="Kept">Cache bytes at the end over the full cache's: the fraction of memory actually held (policies that protect the prompt may hold more than the budget).</param>
/// <param name="Agreement">Fraction of decoded positions whose greedy prediction equals the full cache's (1 for the full cache).</param>
/// <param name="OutputError">‖logits − the full cache's logits‖ / ‖the full cache's logits‖ over the decoded positions (0 for the full cache).</param>
public sealed record CacheScore(string Cache, double Budget, double Metric, double Loss, double BytesPerToken, double Kept = 1, double Agreement = 1, double OutputError = 0);

/// <summary>
/// Measures what a cache keeps, on a trained model and one of the kit's tasks (<see cref="AttnKit.Tasks"/>), the way
/// generation uses a cache:
/// 1. prefill the context, the tokens before the first scored position (<see cref="ContextLength"/>), in one forward
///    pass through the cache: its attention reads every context token (keys, values and the queries a policy observes),
///    then the policy compresses to its budget;
/// 2. decode every later token one at a time through the compressed cache (teacher forcing: the true token is fed,
///    so the queries and answers of the task are read from what the cache kept), compressing as the policy says;
/// 3. score the decoded logits with the task's own metric and loss (the prefill logits fill the unscored context);
/// 4. memory: <see cref="ModelCache.StorageBytes"/> at the end, per token fed, and as a share of the full cache's.
/// A cache that keeps everything gives exactly the logits of a plain forward pass (cached decoding equals full
/// recomputation), so the full cache's metric is the model's metric.
/// </summary>
public static class CacheEvaluation
{
    /// <summary>The prefill length of a batch: the first position scored in any row (every scored position is then decoded).</summary>
    public static int ContextLength(TaskBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Check.Rank(batch.Targets, 2, "batch.Targets", "(B, N)");
        using var scope = torch.NewDisposeScope();
        var scored = batch.Targets.ne(SyntheticTasks.Ignore);                                                   // (B, N)
        if (!scored.any().item<bool>()) throw new ArgumentException("batch: expected at least one scored position (target ≠ −100), got none", nameof(batch));
        long first = torch.arange(scored.shape[1], ScalarType.Int64, scored.device).masked_select(scored.any(0)).min().item<long>();
        if (first < 1) throw new ArgumentException("batch: position 0 is scored, so there is no context to prefill before it", nameof(batch));
        return (int)first;
    }

    /// <summary>
    /// Feeds <paramref name="inputs"/> (B, N) through <paramref name="cache"/> as generation does (steps 1 and 2): the first
    /// <paramref name="contextLength"/> tokens in one prefill pass, then one token at a time; returns the logits of every
    /// position (B, N, V) in float32. The cache is left holding what the policy kept, for a reader to inspect.
    /// </summary>
    public static Tensor Decode(TinyLm model, Tensor inputs, ModelCache cache, int contextLength)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cache);
        Check.Rank(inputs, 2, nameof(inputs), "(B, N)");
        long n = inputs.shape[1];
        if (contextLength < 1 || contextLength > n) throw new ArgumentException($"{nameof(contextLength)}: expected 1 … {n} (the tokens of the inputs), got {contextLength}", nameof(contextLength));
        if (cache.Seen != 0) throw new ArgumentException($"{nameof(cache)}: expected an empty cache, got one that has seen {cache.Seen} tokens", nameof(cache));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var logits = new List<Tensor> { model.Forward(inputs.narrow(1, 0, contextLength), cache) };                // 1. (B, ctx, V)
        for (long i = contextLength; i < n; i++)
        {
            using var step = torch.NewDisposeScope();
            logits.Add(model.Forward(inputs.narrow(1, i, 1), cache).MoveToOuterDisposeScope());                    // 2. (B, 1, V)
        }
        return torch.cat(logits, 1).to(ScalarType.Float32).MoveToOuterDisposeScope();                            // (B, N, V)
    }

    /// <summary>
    /// Scores <paramref name="cache"/> (null: the growing full cache) on <paramref name="batch"/> of <paramref name="task"/>,
    /// prefilling <paramref name="contextLength"/> tokens (default <see cref="ContextLength"/>).
    /// </summary>
    public static CacheScore Score(TinyLm model, ISyntheticTask task, TaskBatch batch, Func<int, LayerCache>? cache, string name = "full", double budget = 1, int? contextLength = null)
    {
        using var scope = torch.NewDisposeScope();
        var (score, _, _) = Run(model, task, batch, cache, name, budget, contextLength, null);
        return score;
    }

    /// <summary>
    /// The full cache and every (policy, budget) pair on one batch; each row compares its logits with the full cache's.
    /// The first row is the full cache (budget 1).
    /// </summary>
    public static IReadOnlyList<CacheScore> Sweep(TinyLm model, ISyntheticTask task, TaskBatch batch, IEnumerable<CachePolicy> policies, IReadOnlyList<double> budgets, int? contextLength = null)
    {
        ArgumentNullException.ThrowIfNull(policies);
        ArgumentNullException.ThrowIfNull(budgets);
        foreach (var f in budgets)
            if (!(f > 0 && f <= 1)) throw new ArgumentException($"{nameof(budgets)}: expected fractions in (0, 1], got {f}", nameof(budgets));
        using var scope = torch.NewDisposeScope();
        int ctx = contextLength ?? ContextLength(batch);
        var (full, logits, bytes) = Run(model, task, batch, null, "full", 1, ctx, null);
        var rows = new List<CacheScore> { full };
        int n = (int)batch.Inputs.shape[1];
        foreach (var policy in policies)
            foreach (var f in budgets)
            {
                using var each = torch.NewDisposeScope();
                var plan = new BudgetPlan(f, Math.Max(1, (int)Math.Round(f * n)), ctx, n);
                rows.Add(Run(model, task, batch, policy.Make(plan), policy.Name, f, ctx, (logits, bytes)).Score);
            }
        return rows;
    }

    private static (CacheScore Score, Tensor Logits, long Bytes) Run(TinyLm model, ISyntheticTask task, TaskBatch batch, Func<int, LayerCache>? cache, string name, double budget,
        int? contextLength, (Tensor Logits, long Bytes)? reference)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(batch);
        Check.Rank(batch.Inputs, 2, "batch.Inputs", "(B, N)");
        Check.Dim(batch.Targets, 0, batch.Inputs.shape[0], "batch.Targets", "batch B like the inputs");
        Check.Dim(batch.Targets, 1, batch.Inputs.shape[1], "batch.Targets", "tokens N like the inputs");
        long n = batch.Inputs.shape[1];
        int first = ContextLength(batch);
        int ctx = contextLength ?? first;
        if (ctx < 1 || ctx > first)
            throw new ArgumentException($"{nameof(contextLength)}: expected 1 … {first} (the first scored position, so every scored token is decoded through the cache), got {ctx}", nameof(contextLength));
        using var scope = torch.NewDisposeScope();
        using var mc = cache is null ? model.NewCache() : model.NewCache(cache);
        var l = Decode(model, batch.Inputs, mc, ctx);                                                              // 1., 2. (B, N, V)
        using var noGrad = torch.no_grad();
        double metric = task.Score(l, batch);                                                                      // 3.
        double loss = torch.nn.functional.cross_entropy(l.reshape(-1, l.shape[2]), batch.Targets.reshape(-1), ignore_index: SyntheticTasks.Ignore).item<float>();
        long bytes = mc.StorageBytes;
        double perToken = bytes / (double)(mc.Seen * batch.Inputs.shape[0]);                                       // 4.
        double kept = 1, agree = 1, error = 0;
        if (reference is (Tensor full, long fullBytes))
        {
            var d = l.narrow(1, ctx, n - ctx);
            var r = full.narrow(1, ctx, n - ctx);
            kept = bytes / (double)fullBytes;
            agree = d.argmax(-1).eq(r.argmax(-1)).to(ScalarType.Float32).mean().item<float>();
            error = ((d - r).pow(2).sum() / r.pow(2).sum()).sqrt().item<float>();
        }
        return (new CacheScore(name, budget, metric, loss, perToken, kept, agree, error), l.MoveToOuterDisposeScope(), bytes);
    }
}
