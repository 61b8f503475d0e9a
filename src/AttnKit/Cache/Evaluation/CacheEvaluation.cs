using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Evaluation;

/// <summary>One measurement of a cache on a task.</summary>
/// <param name="Cache">The cache's name.</param>
/// <param name="Budget">Fraction of the context's tokens the cache may keep (1: all).</param>
/// <param name="Accuracy">Fraction of answers recalled (greedy, teacher-forced queries).</param>
/// <param name="Loss">Mean cross-entropy of the decoded tokens (nats).</param>
/// <param name="BytesPerToken">Cache bytes at the end over tokens seen, measured from the cache's storage.</param>
/// <param name="Agreement">Fraction of decoded positions whose greedy prediction equals the full cache's (1 for the full cache).</param>
/// <param name="OutputError">‖logits − the full cache's logits‖ / ‖the full cache's logits‖ over the decoded positions (0 for the full cache).</param>
public sealed record CacheScore(string Cache, double Budget, double Accuracy, double Loss, double BytesPerToken, double Agreement = 1, double OutputError = 0);

/// <summary>
/// Measures what a cache keeps, on a model and a task:
/// 1. prefill the context through the cache (a policy compresses it here);
/// 2. decode the rest one token at a time with teacher forcing (a policy compresses periodically);
/// 3. accuracy: argmax = the next token at answer positions; loss: cross-entropy of every decoded token;
/// 4. memory: <see cref="ModelCache.StorageBytes"/> over the tokens seen.
/// </summary>
public static class CacheEvaluation
{
    /// <summary>Scores <paramref name="cache"/> (null: the growing cache) on <paramref name="batch"/>.</summary>
    public static CacheScore Score(TinyLm model, CacheTaskBatch batch, Func<int, LayerCache>? cache, string name = "full", double budget = 1)
    {
        using var scope = torch.NewDisposeScope();
        var (score, _) = Run(model, batch, cache, name, budget, null);
        return score;
    }

    /// <summary>Scores <paramref name="cache"/> and its agreement with the full cache's greedy predictions (3.).</summary>
    public static CacheScore ScoreAgainstFull(TinyLm model, CacheTaskBatch batch, Func<int, LayerCache> cache, string name, double budget)
    {
        using var scope = torch.NewDisposeScope();
        var (_, full) = Run(model, batch, null, "full", 1, null);
        var (score, _) = Run(model, batch, cache, name, budget, full);
        return score;
    }

    private static (CacheScore Score, Tensor Logits) Run(TinyLm model, CacheTaskBatch batch, Func<int, LayerCache>? cache, string name, double budget, Tensor? reference)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        Check.Rank(batch.Tokens, 2, "batch.Tokens", "(B, N)");
        long n = batch.Tokens.shape[1], ctx = batch.ContextLength;
        if (ctx < 1 || ctx >= n) throw new ArgumentException($"batch.ContextLength: expected 1 … {n - 1}, got {ctx}", nameof(batch));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var mc = cache is null ? model.NewCache() : model.NewCache(cache);
        var logits = new List<Tensor> { model.Forward(batch.Tokens.narrow(1, 0, ctx), mc).narrow(1, ctx - 1, 1) };   // 1. the last context logit
        for (long i = ctx; i < n - 1; i++)
        {
            using var step = torch.NewDisposeScope();
            logits.Add(model.Forward(batch.Tokens.narrow(1, i, 1), mc).MoveToOuterDisposeScope());                  // 2.
        }
        var l = torch.cat(logits, 1).to(ScalarType.Float32);                                                          // (B, n − ctx, V): predicts tokens ctx … n − 1
        var target = batch.Tokens.narrow(1, ctx, n - ctx);
        var ans = batch.Answers.narrow(1, ctx - 1, n - ctx);                                                          // answer after position i is token i + 1
        var correct = l.argmax(-1).eq(target).logical_and(ans);                                                       // 3.
        double acc = correct.sum().item<long>() / (double)Math.Max(1, ans.sum().item<long>());
        double loss = torch.nn.functional.cross_entropy(l.reshape(-1, l.shape[2]), target.reshape(-1)).item<float>();
        double bytes = mc.StorageBytes / (double)(mc.Seen * batch.Tokens.shape[0]);                                   // 4. per token of one sequence
        double agree = reference is null ? 1 : l.argmax(-1).eq(reference.argmax(-1)).to(ScalarType.Float32).mean().item<float>();
        double error = reference is null ? 0 : ((l - reference).pow(2).sum() / reference.pow(2).sum()).sqrt().item<float>();
        return (new CacheScore(name, budget, acc, loss, bytes, agree, error), l.MoveToOuterDisposeScope());
    }

    /// <summary>Scores every (cache, budget) pair: <paramref name="caches"/> maps a name and a budget fraction to a factory.</summary>
    public static IReadOnlyList<CacheScore> Sweep(TinyLm model, CacheTaskBatch batch, IReadOnlyDictionary<string, Func<double, Func<int, LayerCache>>> caches, IReadOnlyList<double> budgets)
    {
        ArgumentNullException.ThrowIfNull(caches);
        ArgumentNullException.ThrowIfNull(budgets);
        var rows = new List<CacheScore>();
        foreach (var (name, make) in caches)
            foreach (var b in budgets) rows.Add(ScoreAgainstFull(model, batch, make(b), name, b));
        return rows;
    }

    /// <summary>
    /// A minimal training loop for the evaluation (AdamW on the task's answers and its whole sequence), for notebooks and
    /// tests that need a model that recalls; returns the loss every <paramref name="every"/> steps.
    /// </summary>
    public static IReadOnlyList<double> Train(TinyLm model, ICacheTask task, int steps, int batch = 32, double lr = 3e-3, long seed = 0, int every = 50)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        Check.Positive(steps, nameof(steps));
        Check.Positive(batch, nameof(batch));
        Check.PositiveFinite(lr, nameof(lr));
        var gen = new Generator((ulong)seed);
        var opt = torch.optim.AdamW(model.parameters(), lr, weight_decay: 0.01);
        var losses = new List<double>();
        model.train();
        for (int s = 0; s < steps; s++)
        {
            using var scope = torch.NewDisposeScope();
            var b = task.Sample(batch, gen, model.Device);
            var logits = model.Forward(b.Tokens.narrow(1, 0, b.Tokens.shape[1] - 1)).to(ScalarType.Float32);   // (B, N − 1, V)
            var target = b.Tokens.narrow(1, 1, b.Tokens.shape[1] - 1);
            var weight = b.Answers.narrow(1, 0, b.Tokens.shape[1] - 1).to(ScalarType.Float32) * 4 + 0.25f;        // the answers matter most
            var ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), target.reshape(-1), reduction: nn.Reduction.None);
            var loss = (ce * weight.reshape(-1)).sum() / weight.sum();
            opt.zero_grad();
            loss.backward();
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            opt.step();
            if (s % every == 0 || s == steps - 1) losses.Add(loss.item<float>());
        }
        model.eval();
        return losses;
    }
}
