using AttnKit.Bench;
using static TorchSharp.torch;

namespace AttnKit.Tests.Attention.Blockwise;

public class BlockwiseBenchCasesTests
{
    [Fact]
    public void Every_row_registers_runs_and_leaves_nothing_alive()
    {
        var rows = BenchRegistry.All().Where(c => c.Name is "flash-tiled-causal" or "flash-tiled-causal-fwd+bwd" or "memory-efficient-causal" or "reference-causal-fwd+bwd").ToList();
        Assert.Equal(4, rows.Count);
        var shape = new BenchShape(1, 2, 2, 256, 16, ScalarType.Float32);
        foreach (var row in rows)
        {
            Assert.True(row.Supports(shape, T.Dev, out var why), why);
            Assert.True(row.PeakBytes(shape) > 0 && row.Flops(shape) > 0);
            long before = AttnKit.Core.LiveTensors.Count;
            using (var run = row.Prepare(shape, T.Dev)) { run.Step(); run.Step(); }
            Assert.Equal(before, AttnKit.Core.LiveTensors.Count);
        }
        Assert.False(rows[0].Supports(shape with { Tokens = 1 << 20 }, CPU, out var tooLong));
        Assert.Contains("tiles", tooLong);
    }
}
