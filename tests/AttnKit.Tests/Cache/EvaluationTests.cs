using AttnKit.Cache;
using AttnKit.Cache.Evaluation;
using AttnKit.Cache.Policies;
using AttnKit.Models;
using AttnKit.Models.Training;
using AttnKit.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Cache;

[Collection("global RNG")]
public class EvaluationTests
{
    // a tiny MQAR model trained for a few dozen steps with the kit's own trainer (the previous-token half of the
    // recall circuit forms; recall itself needs a few hundred steps): trained weights, not random ones
    private static TinyLm Trained(MultiQueryAssociativeRecall task, int steps)
    {
        torch.manual_seed(0);
        var model = new TinyLm(new TinyLmConfig { VocabSize = task.VocabSize, ModelDim = 32, Layers = 2, Heads = 2, MlpDim = 0 }, T.Dev);
        using var trainer = Trainer.ForTask(model, new TaskMixture(new PreviousToken(task.SequenceLength, task.VocabSize), task),
            new TrainOptions { Steps = steps, BatchSize = 16, LearningRate = 3e-3, WarmupSteps = 5, EvalEvery = 0, EvalSequences = 16, Seed = 0 }, task);
        trainer.Train();
        Assert.True(trainer.History[^1].Loss < trainer.History[0].Loss - 0.1, $"training lowered the loss: {trainer.History[0].Loss} -> {trainer.History[^1].Loss}");
        model.eval();
        return model;
    }

    [Fact]
    public void Every_policy_at_a_full_budget_equals_the_full_cache_which_equals_a_plain_forward()
    {
        var task = new MultiQueryAssociativeRecall(3, 24, 16);
        using var model = Trained(task, 30);
        using var scope = torch.NewDisposeScope();
        using var batch = task.Sample(12, 5, T.Dev);
        double plain;
        using (var noGrad = torch.no_grad()) plain = task.Score(model.Forward(batch.Inputs), batch);
        var rows = CacheEvaluation.Sweep(model, task, batch, CachePolicies.Standard(model), [1.0]);
        long live = AttnKit.Core.LiveTensors.Count;                                           // (the first sweep may extend RoPE's table)
        CacheEvaluation.Sweep(model, task, batch, CachePolicies.Standard(model), [1.0, 0.3]);
        Assert.Equal(live, AttnKit.Core.LiveTensors.Count);                                   // no tensor left behind
        Assert.Equal(1 + CachePolicies.Standard(model).Count, rows.Count);
        Assert.Equal(plain, rows[0].Metric);                                                // the task's own metric on a plain forward
        // a passkey batch of the same vocabulary: a long prefill (the haystack) and a short decode
        var passkey = new PasskeyRetrieval(24, null, 3, 16);
        using var pb = passkey.Sample(12, 6, T.Dev);
        double plainPasskey;
        using (var noGrad = torch.no_grad()) plainPasskey = passkey.Score(model.Forward(pb.Inputs), pb);
        var passkeyRows = CacheEvaluation.Sweep(model, passkey, pb, CachePolicies.Standard(model), [1.0]);
        Assert.Equal(plainPasskey, passkeyRows[0].Metric);
        foreach (var (full, r) in rows.Skip(1).Select(r => (rows[0], r)).Concat(passkeyRows.Skip(1).Select(r => (passkeyRows[0], r))))
        {
            Assert.Equal("full", full.Cache);
            Assert.True(full.Metric == r.Metric, $"{r.Cache}: {r.Metric} vs full {full.Metric}");
            Assert.True(full.Loss == r.Loss, $"{r.Cache}: loss {r.Loss} vs full {full.Loss}");
            Assert.Equal(1.0, r.Agreement);
            Assert.Equal(0.0, r.OutputError);
            Assert.Equal(1.0, r.Kept);
        }
    }

    [Fact]
    public void Scores_measure_bytes_and_a_small_budget_holds_fewer()
    {
        var task = new MultiQueryAssociativeRecall(3, 24, 16);
        using var model = Trained(task, 30);
        using var scope = torch.NewDisposeScope();
        using var batch = task.Sample(8, 9, T.Dev);
        int ctx = CacheEvaluation.ContextLength(batch);
        var targets = batch.Targets.cpu().data<long>().ToArray();
        int firstScored = Enumerable.Range(0, 24).First(i => Enumerable.Range(0, 8).Any(r => targets[r * 24 + i] != SyntheticTasks.Ignore));
        Assert.Equal(firstScored, ctx);
        Assert.True(ctx >= 6, "MQAR's context holds the 3 pairs");
        var full = CacheEvaluation.Score(model, task, batch, null);
        Assert.Equal(2.0 * 2 * 2 * 16 * 4, full.BytesPerToken);                        // layers · K and V · Hkv · D · fp32
        var small = CacheEvaluation.Score(model, task, batch, PolicyCache.Factory(_ => new KeyNorm(), new CacheBudget { Tokens = 3 }), "l2", 0.125);
        Assert.Equal(2.0 * 2 * 2 * 16 * 4 * 3 / 24, small.BytesPerToken, 9);          // 3 tokens held of the 24 fed
        var rows = CacheEvaluation.Sweep(model, task, batch, [CachePolicy.Scored("StreamingLLM", _ => new StreamingLlm())], [0.25]);
        Assert.Equal(6.0 / 24, rows[1].Kept, 9);                                      // round(0.25 · 24) = 6 tokens of 24
        Assert.True(rows[1].OutputError > 0);
        Assert.Throws<ArgumentException>(() => CacheEvaluation.Score(model, task, batch, null, contextLength: ctx + 1));
        Assert.Throws<ArgumentException>(() => CacheEvaluation.Score(model, task, batch, null, contextLength: 0));
        Assert.Throws<ArgumentException>(() => CacheEvaluation.Sweep(model, task, batch, [], [1.5]));
        using (var used = model.NewCache())
        {
            Assert.Throws<ArgumentException>(() => CacheEvaluation.Decode(model, batch.Inputs, used, 25));       // past the inputs
            CacheEvaluation.Decode(model, batch.Inputs, used, ctx);
            Assert.Throws<ArgumentException>(() => CacheEvaluation.Decode(model, batch.Inputs, used, ctx));      // not empty
        }
        using var unscored = new TaskBatch { Inputs = batch.Inputs.clone(), Targets = torch.full_like(batch.Targets, SyntheticTasks.Ignore) };
        Assert.Throws<ArgumentException>(() => CacheEvaluation.ContextLength(unscored));
    }

    [Fact]
    public void Passkey_prefills_the_haystack_and_decodes_the_question()
    {
        var task = new PasskeyRetrieval(20, null, 3, 16);
        using var batch = task.Sample(4, 2, T.Dev);
        Assert.Equal(20 - 3 - 1, CacheEvaluation.ContextLength(batch));                   // the question is decoded through the cache
    }
}
