using AttnKit.Core;
using AttnKit.Models;
using AttnKit.Models.Training;
using AttnKit.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Models;

[Collection("global RNG")]
public class TrainerTests
{
    private static readonly ISyntheticTask Task = new MultiQueryAssociativeRecall(pairs: 2, sequenceLength: 16, vocabSize: 16);

    internal static TinyLm Model(ISyntheticTask task, long seed = 1, int dim = 16)
    {
        torch.manual_seed(seed);
        return new TinyLm(new TinyLmConfig { VocabSize = task.VocabSize, ModelDim = dim, Layers = 2, Heads = 2 }, T.Dev);
    }

    private static TrainOptions Options(int steps = 8) => new()
    {
        Steps = steps, BatchSize = 8, LearningRate = 3e-3, WarmupSteps = 3, EvalEvery = 0, EvalSequences = 32, Seed = 7, Precision = TrainPrecision.Float32,
    };

    private static double[] Losses(Trainer t) => t.History.Select(h => h.Loss).ToArray();

    /// <summary>Bit for bit on the CPU; on CUDA within 1e-4, as its reductions and atomics may reorder sums between runs.</summary>
    private static void SameLosses(double[] expected, double[] actual)
    {
        if (T.Dev.type != DeviceType.CUDA) { Assert.Equal(expected, actual); return; }
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * Math.Abs(expected[i]), $"step {i}: {expected[i]} vs {actual[i]}");
    }

    [Fact]
    public void The_same_seed_gives_the_same_losses_and_another_seed_other_losses()
    {
        double[] Run(long dataSeed)
        {
            using var model = Model(Task);
            using var trainer = Trainer.ForTask(model, Task, Options() with { Seed = dataSeed });
            trainer.Train();
            return Losses(trainer);
        }
        var a = Run(7);
        Assert.Equal(8, a.Length);
        SameLosses(a, Run(7));
        Assert.NotEqual(a, Run(8));
    }

    [Fact]
    public void Resuming_from_a_checkpoint_continues_exactly_as_the_uninterrupted_run()
    {
        var dir = Directory.CreateTempSubdirectory("attn-ckpt-").FullName;
        try
        {
            double[] whole;
            using (var model = Model(Task))
            using (var trainer = Trainer.ForTask(model, Task, Options()))
            {
                trainer.Train();
                whole = Losses(trainer);
            }
            using (var model = Model(Task))
            using (var trainer = Trainer.ForTask(model, Task, Options()))
            {
                var first = trainer.Train(untilStep: 5);
                Assert.Equal(5, first.Steps);
                trainer.SaveCheckpoint(dir);
            }
            using (var model = Model(Task, seed: 99))                                                // other weights: the checkpoint must replace them
            using (var trainer = Trainer.ForTask(model, Task, Options()))
            {
                trainer.LoadCheckpoint(dir);
                Assert.Equal(5, trainer.Step);
                var result = trainer.Train();
                Assert.Equal(8, result.Steps);
                SameLosses(whole, Losses(trainer));
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void The_loss_falls_on_a_tiny_task_and_training_stops_at_the_target()
    {
        var copy = new PreviousToken(sequenceLength: 12, vocabSize: 12);
        using var model = Model(copy, dim: 32);
        var lines = new List<string>();
        using var trainer = Trainer.ForTask(model, copy, Options(80) with { LearningRate = 1e-2, EvalEvery = 20, ReportEvery = 20, OnProgress = p => lines.Add(p.ToString()) });
        var result = trainer.Train();
        var losses = Losses(trainer);
        Assert.True(losses[^5..].Average() < 0.7 * losses[..5].Average(), $"loss from {losses[..5].Average():0.000} to {losses[^5..].Average():0.000}");
        Assert.Equal(4, lines.Count);
        Assert.StartsWith("step 20/80  loss ", lines[0]);
        Assert.Contains("previous-token accuracy", lines[0]);
        Assert.Equal(4, trainer.History.Count(h => h.EvalMetric is not null));

        using var again = Model(copy);
        using var early = Trainer.ForTask(again, copy, Options(80) with { EvalEvery = 10, TargetMetric = 0.0 });
        var stopped = early.Train();
        Assert.Equal("target reached", stopped.StopReason);
        Assert.Equal(10, stopped.Steps);
        Assert.True(stopped.ReachedTarget && stopped.TimeToTarget is not null);
    }

    [Fact]
    public void Mixed_precision_keeps_float32_master_weights_and_starts_from_the_same_loss()
    {
        using var model = Model(Task);
        using var reference = Model(Task);
        using var mixed = Trainer.ForTask(model, Task, Options(6) with { Precision = TrainPrecision.BFloat16Mixed });
        using var plain = Trainer.ForTask(reference, Task, Options(6));
        mixed.Train();
        plain.Train();
        Assert.Equal(TrainPrecision.BFloat16Mixed, mixed.Precision);
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.All(mixed.ComputeModule.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        Assert.InRange(mixed.History[0].Loss, plain.History[0].Loss * 0.98, plain.History[0].Loss * 1.02);   // bf16 rounding only
        Assert.True(mixed.History[^1].Loss < mixed.History[0].Loss, "mixed precision trains");
        Assert.Equal(TrainPrecision.Float32, plain.Precision);
    }

    [Fact]
    public void A_training_step_leaves_no_tensors_behind()
    {
        using var model = Model(Task);
        using var trainer = Trainer.ForTask(model, Task, Options() with { EvalEvery = 2 });
        trainer.Train(untilStep: 2);                                                                   // the optimizer's state exists from here
        long before = LiveTensors.Count;
        trainer.Train(untilStep: 6);
        Assert.Equal(before, LiveTensors.Count);
        using var mixedModel = Model(Task);
        using var mixed = Trainer.ForTask(mixedModel, Task, Options() with { Precision = TrainPrecision.BFloat16Mixed });
        mixed.Train(untilStep: 2);
        before = LiveTensors.Count;
        mixed.Train(untilStep: 5);
        Assert.Equal(before, LiveTensors.Count);
    }

    [Fact]
    public void The_learning_rate_warms_up_linearly_then_follows_a_cosine_to_the_floor()
    {
        var o = new TrainOptions { Steps = 105, WarmupSteps = 4, LearningRate = 1.0, MinLearningRateRatio = 0.1 };
        Assert.Equal([0.25, 0.5, 0.75, 1.0], Enumerable.Range(0, 4).Select(o.LearningRateAt));
        Assert.Equal(1.0, o.LearningRateAt(4), 12);
        Assert.Equal(0.55, o.LearningRateAt(4 + 50), 12);                                               // half way down the cosine
        Assert.Equal(0.1, o.LearningRateAt(104), 12);
    }

    [Fact]
    public void The_regression_objective_trains_under_either_mask()
    {
        var task = new InContextRegression(dim: 2, examples: 6, queries: 2);
        foreach (var prefix in new[] { false, true })
        {
            torch.manual_seed(3);
            using var model = new InContextRegressor(task, new TinyLmConfig { VocabSize = 1, ModelDim = 32, Layers = 1, Heads = 2 }, T.Dev);
            using var trainer = new Trainer(new RegressionObjective(model, prefix), Options(40) with { BatchSize = 32, LearningRate = 3e-3, EvalEvery = 40, EvalSequences = 128 });
            var result = trainer.Train();
            Assert.Equal("mse", trainer.History[0].MetricName);
            var losses = Losses(trainer);
            Assert.True(losses[^5..].Average() < losses[..5].Average(), $"prefix={prefix}: loss from {losses[..5].Average():0.000} to {losses[^5..].Average():0.000}");
            Assert.True(result.EvalMetric is > 0 and < 5, $"a held-out error was measured: {result.EvalMetric}");
        }
    }

    [Fact]
    public void Bad_configurations_give_clear_errors()
    {
        Assert.Contains("Steps", Assert.Throws<ArgumentException>(() => new TrainOptions { Steps = 0 }.Validate()).Message);
        Assert.Contains("LearningRate", Assert.Throws<ArgumentException>(() => new TrainOptions { LearningRate = double.NaN }.Validate()).Message);
        Assert.Contains("Beta2", Assert.Throws<ArgumentException>(() => new TrainOptions { Beta2 = 1 }.Validate()).Message);
        Assert.Contains("CheckpointDir", Assert.Throws<ArgumentException>(() => new TrainOptions { CheckpointEvery = 5 }.Validate()).Message);
        Assert.Contains("GradientClip", Assert.Throws<ArgumentException>(() => new TrainOptions { GradientClip = 0 }.Validate()).Message);
        using var model = Model(Task);
        Assert.Contains("got a model with 16", Assert.Throws<ArgumentException>(() => Trainer.ForTask(model, new Copying(4, 10), Options())).Message);
        Assert.Contains("BatchSize", Assert.Throws<ArgumentException>(() => Trainer.ForTask(model, Task, Options() with { BatchSize = -1 })).Message);
        using var trainer = Trainer.ForTask(model, Task, Options());
        Assert.Contains("no checkpoint", Assert.Throws<ArgumentException>(() => trainer.LoadCheckpoint(Path.Combine(Path.GetTempPath(), "attn-no-such-ckpt"))).Message);
        var dir = Directory.CreateTempSubdirectory("attn-ckpt-").FullName;
        try
        {
            trainer.SaveCheckpoint(dir);
            using var other = Trainer.ForTask(model, Task, Options() with { Seed = 8 });
            Assert.Contains("seed 7", Assert.Throws<ArgumentException>(() => other.LoadCheckpoint(dir)).Message);
        }
        finally { Directory.Delete(dir, true); }
        using var half = Model(Task);
        half.to(ScalarType.BFloat16);
        Assert.Contains("float32", Assert.Throws<ArgumentException>(() => Trainer.ForTask(half, Task, Options())).Message);
    }
}
