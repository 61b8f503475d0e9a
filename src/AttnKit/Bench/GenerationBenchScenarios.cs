using System.Diagnostics;
using System.Text.Json;
using AttnKit.Cache;
using AttnKit.Core;
using AttnKit.Models;
using AttnKit.Models.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>
/// The generate suite: greedy generation with the tiny model of the profile's MQAR recipe (quick: d = 64, 2 layers,
/// 2 heads, a 64-token prompt, fp32 on the CPU; full: d = 128, 2 layers, 4 heads, a 256-token prompt, bf16 on a GPU),
/// its weights seeded, not trained (speed does not depend on them):
/// 1. <c>generate-b1</c>, <c>generate-b32</c>: <see cref="Generation.Generate"/> with the growing cache, 64 new tokens
///    after one warm-up; the median decode time of 3 runs; tokens/s = batch × 63 decoded tokens / decode time;
/// 2. <c>generate-static-b1</c>: the same with a preallocated <see cref="StaticCache"/>;
/// 3. <c>forward-step-b1</c>: one cached forward pass of one token alone, synchronized after each (what the loop adds
///    around the model is the difference to 1);
/// 4. when <see cref="BenchScenarioContext.WorkDir"/> is given, the model is written there as a Hugging Face checkpoint
///    with the prompts and the kit's greedy tokens, for bench/pytorch/generate.py (transformers' generate on the same
///    checkpoint; the runner adds its rows).
/// </summary>
public sealed class GenerationBenchScenarios : IBenchScenarioProvider
{
    /// <summary>New tokens per generation.</summary>
    public const int NewTokens = 64;

    /// <inheritdoc/>
    public IEnumerable<IBenchScenario> Scenarios()
    {
        yield return new Generate();
    }

    /// <summary>The model the suite generates with for a profile: the MQAR recipe's shape.</summary>
    public static (TinyLmConfig Config, int PromptTokens, ScalarType DType) Model(SizeProfile profile, Device device)
    {
        var recipe = Models.Training.TrainingRecipes.Mqar(profile);
        int n = profile == SizeProfile.Quick ? 64 : 256;
        return (recipe.Model, n, device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32);
    }

    private sealed class Generate : IBenchScenario
    {
        public string Suite => "generate";
        public string Name => "generate";

        public IReadOnlyList<BenchScenarioRow> Run(BenchScenarioContext context)
        {
            ArgumentNullException.ThrowIfNull(context);
            var (cfg, n, dtype) = Model(context.Profile, context.Device);
            torch.manual_seed(0);
            using var model = new TinyLm(cfg, context.Device, dtype);
            model.eval();
            string what = $"TinyLm d={cfg.ModelDim} L={cfg.Layers} H={cfg.Heads} mlp={cfg.MlpWidth} V={cfg.VocabSize} (seeded, untrained), {(dtype == ScalarType.BFloat16 ? "bf16" : "fp32")}, greedy";
            var rows = new List<BenchScenarioRow>();
            var gen = new Generator(4321);
            using var prompts = torch.randint(0, cfg.VocabSize, [32, n], generator: gen, dtype: ScalarType.Int64).to(context.Device); // (32, N)
            long[]? firstTokens = null;
            foreach (var (name, batch, cache) in new (string, int, Func<int, LayerCache>?)[]
                     { ("generate-b1", 1, null), ("generate-b32", 32, null), ("generate-static-b1", 1, _ => new StaticCache(n + NewTokens)) })
            {
                using var prompt = prompts.narrow(0, 0, batch);
                var options = new GenerationOptions { MaxNewTokens = NewTokens, Cache = cache };
                using (Models.Generation.Generate(model, prompt, options with { MaxNewTokens = 8 })) { }   // warm-up
                var times = new List<double>();
                for (int r = 0; r < 3; r++)
                {
                    using var result = Models.Generation.Generate(model, prompt, options);           // 1–2.
                    times.Add(result.DecodeTime.TotalSeconds);
                    if (name == "generate-b1" && r == 0)
                    {
                        using var row0 = result.Tokens[0].narrow(0, n, NewTokens).cpu();
                        firstTokens = row0.data<long>().ToArray();
                    }
                }
                double seconds = times.Order().ElementAt(times.Count / 2);
                rows.Add(new(name, $"{what}; {(cache is null ? "growing cache" : "static cache")}", new BenchShape(batch, cfg.Heads, cfg.KvHeadCount, n, cfg.Dim, dtype),
                    seconds * 1000 / (NewTokens - 1), batch * (NewTokens - 1) / seconds,
                    $"prompt of {n} tokens, then {NewTokens} tokens; tokens/s = batch × decoded tokens / decode time (prefill excluded); median of 3"));
                context.Log($"{name}: {rows[^1].TokensPerSecond:0} tokens/s");
            }
            rows.Add(ForwardStep(model, prompts.narrow(0, 0, 1), what, cfg, n, dtype, context.Device));         // 3.
            context.Log($"forward-step-b1: {rows[^1].MsPerStep:0.###} ms");
            if (context.WorkDir is string dir)                                                               // 4.
            {
                Directory.CreateDirectory(dir);
                HuggingFaceCheckpoint.Save(model, Path.Combine(dir, "checkpoint"));
                using var cpu = prompts.cpu();
                var list = Enumerable.Range(0, 32).Select(i => { using var row = cpu[i]; return row.data<long>().ToArray(); }).ToArray();
                File.WriteAllText(Path.Combine(dir, "prompts.json"), JsonSerializer.Serialize(new { tokens = list }));
                File.WriteAllText(Path.Combine(dir, "expect.json"), JsonSerializer.Serialize(new { b1 = firstTokens }));
            }
            return rows;
        }

        private static BenchScenarioRow ForwardStep(TinyLm model, Tensor prompt, string what, TinyLmConfig cfg, int n, ScalarType dtype, Device device)
        {
            using var noGrad = torch.no_grad();
            using var cache = model.NewCache();
            using (var s = torch.NewDisposeScope()) model.Forward(prompt, cache);
            using var token = torch.zeros([1, 1], ScalarType.Int64, device);
            var times = new List<double>();
            for (int i = 0; i < NewTokens; i++)
            {
                using var s = torch.NewDisposeScope();
                var watch = Stopwatch.StartNew();
                model.Forward(token, cache);
                if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
                if (i >= 8) times.Add(watch.Elapsed.TotalMilliseconds);                            // after warm-up steps
            }
            double ms = times.Order().ElementAt(times.Count / 2);
            return new("forward-step-b1", $"{what}; one cached forward pass of one token, synchronized", new BenchShape(1, cfg.Heads, cfg.KvHeadCount, n, cfg.Dim, dtype),
                ms, 1000 / ms, "median over 56 steps after 8 warm-up steps; tokens/s = 1 / step time");
        }
    }
}
