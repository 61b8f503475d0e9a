using System.Diagnostics;
using AttnKit.Core;
using AttnKit.Models;
using AttnKit.Models.Training;
using AttnKit.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>
/// The train suite: the MQAR recipe of the profile (<see cref="TrainingRecipes.Mqar"/>) trained from a seeded
/// initialisation until it reaches its target or its time limit, then greedy decoding with the trained model at
/// batch 1 and 32:
/// 1. train: seconds to target (evaluations included), final held-out accuracy, training tokens/s (steps only);
/// 2. decode: prefill a task prompt, then generate 64 tokens with the growing cache; decode tokens/s = batch × tokens / decode time.
/// </summary>
public sealed class TrainBenchScenarios : IBenchScenarioProvider
{
    /// <inheritdoc/>
    public IEnumerable<IBenchScenario> Scenarios()
    {
        yield return new MqarToTarget();
    }

    private sealed class MqarToTarget : IBenchScenario
    {
        public string Suite => "train";
        public string Name => "mqar-train";

        public IReadOnlyList<BenchScenarioRow> Run(BenchScenarioContext context)
        {
            ArgumentNullException.ThrowIfNull(context);
            var recipe = TrainingRecipes.Mqar(context.Profile);
            var options = recipe.Options with
            {
                TimeLimit = context.TimeBudgetSeconds is double s ? TimeSpan.FromSeconds(s) : recipe.Options.TimeLimit,
                ReportEvery = 20, OnProgress = p => context.Log(p.ToString()),
            };
            var cfg = recipe.Model;
            torch.manual_seed(options.Seed);
            if (context.Device.type == DeviceType.CUDA) torch.cuda.manual_seed_all(options.Seed);
            using var model = new TinyLm(cfg, context.Device, ScalarType.Float32);
            using var trainer = Trainer.ForTask(model, recipe.Task, options, recipe.EvalTask);
            var result = trainer.Train();                                                                  // 1.
            string precision = trainer.Precision == TrainPrecision.BFloat16Mixed ? "bf16" : "fp32";
            var dtype = trainer.Precision == TrainPrecision.BFloat16Mixed ? ScalarType.BFloat16 : ScalarType.Float32;
            string what = $"{recipe.Name}: train {recipe.Task.Name}, target on {recipe.TargetTask.Name}; TinyLm d={cfg.ModelDim} L={cfg.Layers} H={cfg.Heads} mlp={cfg.MlpWidth}; {precision}; AdamW lr={options.LearningRate:g3} batch={options.BatchSize}";
            var rows = new List<BenchScenarioRow>
            {
                new("mqar-train", what, new BenchShape(options.BatchSize, cfg.Heads, cfg.KvHeadCount, recipe.TargetTask.SequenceLength, cfg.Dim, dtype),
                    result.Steps > 0 ? result.Elapsed.TotalMilliseconds / result.Steps : 0, result.TokensPerSecond,
                    $"{result.StopReason} after {result.Steps} steps; tokens/s counts input tokens of training steps; seconds to target include evaluations ({options.EvalSequences} sequences every {options.EvalEvery} steps); target {options.TargetMetric:0.##}",
                    result.TimeToTarget?.TotalSeconds, result.EvalMetric),
            };
            // 2. decode with the trained model, in the training's compute precision
            var decoder = trainer.Precision == TrainPrecision.BFloat16Mixed ? (TinyLm)trainer.ComputeModule : model;
            foreach (int batch in new[] { 1, 32 })
            {
                const int newTokens = 64;
                using var scope = torch.NewDisposeScope();
                using var data = recipe.TargetTask.Sample(batch, seed: 12345, context.Device);
                var prompt = data.Inputs;
                Decode(decoder, prompt.narrow(1, 0, 8), 4);                                                // warm-up
                var timing = Decode(decoder, prompt, newTokens);
                double seconds = timing.TotalSeconds;
                rows.Add(new($"decode-b{batch}", $"{recipe.Name}: greedy decoding with the trained model, growing cache, {precision}",
                    new BenchShape(batch, cfg.Heads, cfg.KvHeadCount, recipe.TargetTask.SequenceLength, cfg.Dim, dtype),
                    seconds * 1000 / (newTokens - 1), batch * (newTokens - 1) / seconds,
                    $"prompt of {recipe.TargetTask.SequenceLength} tokens, then {newTokens} tokens; tokens/s = batch × decoded tokens / decode time (prefill excluded)"));
                context.Log($"decode batch {batch}: {rows[^1].TokensPerSecond:0} tokens/s");
            }
            return rows;
        }

        private static TimeSpan Decode(TinyLm model, Tensor prompt, int newTokens)
        {
            using var result = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = newTokens });
            return result.DecodeTime;
        }
    }
}
