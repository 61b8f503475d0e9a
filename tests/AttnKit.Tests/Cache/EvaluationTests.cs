using AttnKit.Cache;
using AttnKit.Cache.Evaluation;
using AttnKit.Cache.Policies;
using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Cache;

[Collection("global RNG")]
public class EvaluationTests
{
    [Fact]
    public void Recall_batches_put_each_answer_after_its_key_and_the_pair_in_the_context()
    {
        using var scope = torch.NewDisposeScope();
        foreach (var task in new[] { RecallTask.Mqar(5, 3), RecallTask.Passkey(12), new RecallTask(3, 2, 4) })
        {
            var b = task.Sample(8, new Generator(3), T.Dev);
            Assert.Equal([8L, task.ContextLength + 2L * task.Queries], b.Tokens.shape);
            var t = b.Tokens.cpu().data<long>().ToArray();
            var a = T.Bools(b.Answers);
            long n = b.Tokens.shape[1];
            for (int r = 0; r < 8; r++)
            {
                var row = t.Skip(r * (int)n).Take((int)n).ToArray();
                var ctx = row.Take(task.ContextLength).ToArray();
                Assert.Equal(task.Filler, ctx.Count(x => x == task.Keys + task.Values));
                for (int i = 0; i < n - 1; i++)
                {
                    if (!a[r * n + i]) continue;
                    int at = Array.IndexOf(ctx, row[i]);
                    Assert.True(at >= 0 && ctx[at + 1] == row[i + 1], "the answer follows its key in the context");
                }
            }
        }
        Assert.Throws<ArgumentException>(() => new RecallTask(20, 1, keys: 10));
        var mixture = new CacheTaskMixture(RecallTask.Mqar(5, 3), RecallTask.Passkey(12));
        var gen = new Generator(5);
        var withFiller = Enumerable.Range(0, 16).Select(_ => mixture.Sample(2, gen, T.Dev).Tokens.eq(32).any().item<bool>()).ToArray();
        Assert.Contains(true, withFiller);                                                // passkey batches (filler token 32)
        Assert.Contains(false, withFiller);                                               // and MQAR batches
        Assert.Throws<ArgumentException>(() => new CacheTaskMixture());
    }

    [Fact]
    public void Scores_count_answers_measure_bytes_and_equal_the_full_cache_at_a_full_budget()
    {
        torch.manual_seed(0);
        var task = RecallTask.Mqar(4, 3);
        using var model = new TinyLm(new TinyLmConfig { VocabSize = task.VocabSize, ModelDim = 32, Layers = 2, Heads = 2, MlpDim = 0 }, T.Dev);
        using var scope = torch.NewDisposeScope();
        var batch = task.Sample(16, new Generator(99), T.Dev);
        var full = CacheEvaluation.Score(model, batch, null);
        using (var noGrad = torch.no_grad())
        {
            // independent count: full recomputation, argmax at the answer positions
            var logits = model.Forward(batch.Tokens);
            var hit = logits.argmax(-1).narrow(1, 0, 13).eq(batch.Tokens.narrow(1, 1, 13)).logical_and(batch.Answers.narrow(1, 0, 13));
            Assert.Equal(hit.sum().item<long>() / 48.0, full.Accuracy, 9);
        }
        var same = CacheEvaluation.Score(model, batch, PolicyCache.Factory(_ => new HeavyHitterOracle(), new CacheBudget { Tokens = 100 }), "h2o", 1);
        Assert.Equal(full.Accuracy, same.Accuracy);
        Assert.Equal(full.Loss, same.Loss, 6);
        Assert.Equal(2.0 * 2 * 2 * 16 * 4, full.BytesPerToken);                        // layers · K and V · Hkv · D · fp32
        var small = CacheEvaluation.Score(model, batch, PolicyCache.Factory(_ => new KeyNorm(), new CacheBudget { Tokens = 3 }), "l2", 0.375);
        Assert.Equal(2.0 * 2 * 2 * 16 * 4 * 3 / 13, small.BytesPerToken, 9);          // 3 tokens held of the 13 fed
        Assert.Throws<ArgumentException>(() => CacheEvaluation.Score(model, batch with { ContextLength = 14 }, null));
    }
}
