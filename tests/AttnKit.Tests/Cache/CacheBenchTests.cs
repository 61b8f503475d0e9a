using AttnKit.Bench;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Cache;

[Collection("global RNG")]
public class CacheBenchTests
{
    [Fact]
    public void Every_cache_bench_case_registers_prepares_and_steps_without_leaking()
    {
        var cases = BenchRegistry.All().Where(c => c.Name.StartsWith("decode-cache-")).ToList();
        Assert.Equal(7, cases.Count);
        Assert.All(cases, c => Assert.Equal("decode", c.Suite));
        var shape = new BenchShape(1, 4, 2, 40, 16, ScalarType.Float32);
        foreach (var c in cases)
        {
            using var run = c.Prepare(shape, T.Dev);
            run.Step();
            long before = AttnKit.Core.LiveTensors.Count;
            for (int i = 0; i < 3; i++) run.Step();
            Assert.True(AttnKit.Core.LiveTensors.Count <= before, $"{c.Name}: live tensors grew from {before} to {AttnKit.Core.LiveTensors.Count}");
        }
    }
}
