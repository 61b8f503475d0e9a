using AttnKit.Attention;
using AttnKit.Cache;
using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Models;

/// <summary>The generation loop with the fused paths against the path the kit took before them, and its memory over long runs.</summary>
public class GenerationFastPathTests
{
    [Theory]
    [InlineData(2, false)]
    [InlineData(4, false)]
    [InlineData(2, true)]
    public void Generation_with_the_fast_paths_equals_the_old_path_token_for_token(int kvHeads, bool sample)
    {
        using var model = TinyLmTests.Model(kvHeads: kvHeads, seed: 21);
        using var prompt = torch.randint(0, 37, [3, 9], generator: new Generator(22), dtype: ScalarType.Int64).to(T.Dev);
        var options = new GenerationOptions { MaxNewTokens = 24, Temperature = sample ? 0.8 : 0, TopK = sample ? 10 : null, Seed = 5 };
        using var fast = Generation.Generate(model, prompt, options);
        using var staticCache = Generation.Generate(model, prompt, options with { Cache = _ => new StaticCache(9 + 24) });
        FusedKernels.UseTorchScript = false;
        try
        {
            using var old = Generation.Generate(model, prompt, options);
            Assert.Equal(T.Floats(old.Tokens), T.Floats(fast.Tokens));
            Assert.Equal(old.Generated, fast.Generated);
        }
        finally { FusedKernels.UseTorchScript = true; }
        Assert.Equal(T.Floats(fast.Tokens), T.Floats(staticCache.Tokens));
        using var recomputed = Generation.Generate(model, prompt, options with { NoCache = true });
        Assert.Equal(T.Floats(recomputed.Tokens), T.Floats(fast.Tokens));
    }

    [Fact]
    public void Stop_tokens_end_rows_and_the_loop_as_before()
    {
        using var model = TinyLmTests.Model(seed: 23);
        using var prompt = torch.randint(0, 37, [4, 5], generator: new Generator(24), dtype: ScalarType.Int64).to(T.Dev);
        using var free = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 12 });
        var firstNew = T.Floats(free.Tokens.select(1, 5)).Select(x => (long)x).ToArray();
        using var stopped = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 12, StopTokens = firstNew });
        Assert.All(stopped.Generated, g => Assert.Equal(1, g));                               // every row stops at its first token
        Assert.Equal(6, stopped.Tokens.shape[1]);                                             // and the loop ends there
    }

    [Fact]
    public void A_thousand_decoding_steps_leave_no_tensor_behind()
    {
        using var model = TinyLmTests.Model(seed: 25);
        using (var warm = torch.NewDisposeScope()) model.Rope!.ApplyFrom(torch.zeros([1, 1, 1, 8], ScalarType.Float32, T.Dev), 1100); // size the rotary table for every position first
        long before = LiveTensors.Count;
        using (torch.no_grad())
        using (var cache = model.NewCache(_ => new StaticCache(1100)))
        {
            using (var s = torch.NewDisposeScope()) model.Forward(torch.zeros([1, 8], ScalarType.Int64, T.Dev), cache);
            using var token = torch.ones([1, 1], ScalarType.Int64, T.Dev);
            long during = 0;
            for (int i = 0; i < 1000; i++)
            {
                if (i == 10) during = LiveTensors.Count;                                      // between steps: the cache and the token
                using var step = model.Run(token, cache);
            }
            Assert.Equal(during, LiveTensors.Count);                                          // no growth from step 10 to step 1000
            Assert.Equal(1008, cache.Seen);
        }
        Assert.Equal(before, LiveTensors.Count);
        using var prompt = torch.zeros([1, 4], ScalarType.Int64, T.Dev);
        T.NoLeak(() => { var r = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 300 }); return [r.Tokens]; });
    }
}
