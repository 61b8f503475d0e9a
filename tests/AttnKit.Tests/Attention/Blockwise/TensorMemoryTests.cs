using AttnKit.Attention.Blockwise;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Attention.Blockwise;

public class TensorMemoryTests
{
    [Fact]
    public void Counts_each_storage_once_and_not_the_inputs()
    {
        var input = torch.zeros(500, device: T.Dev);
        var m = TensorMemory.Measure(() =>
        {
            var a = torch.zeros(1000, device: T.Dev);               // 4000 bytes
            _ = a.view(10, 100); _ = a.narrow(0, 0, 10); _ = a.view(1, 1000).expand(3, 1000);   // views: nothing new
            _ = input.view(5, 100);                                 // a view of an input: not counted
        }, input);
        Assert.Equal(4000, m.PeakBytes);
        Assert.Equal(4000, m.FinalBytes);
    }

    [Fact]
    public void Sees_a_disposed_inner_scope_only_where_it_was_sampled()
    {
        var m = TensorMemory.Measure(() =>
        {
            using (var inner = torch.NewDisposeScope())
            {
                _ = torch.zeros(2000, device: T.Dev);               // 8000 bytes, then disposed
                TensorMemory.Sample();
            }
            _ = torch.zeros(10, device: T.Dev);
        });
        Assert.Equal(8000, m.PeakBytes);
        Assert.Equal(40, m.FinalBytes);
        Assert.Equal(2, m.Samples);
    }

    [Fact]
    public void Leaves_nothing_alive_and_does_not_nest()
    {
        long before = LiveTensors.Count;
        TensorMemory.Measure(() => { _ = torch.ones(3, 3, device: T.Dev); });
        Assert.Equal(before, LiveTensors.Count);
        Assert.False(TensorMemory.IsMeasuring);
        Assert.Throws<InvalidOperationException>(() => TensorMemory.Measure(() => TensorMemory.Measure(() => { })));
        TensorMemory.Sample();                                       // outside a measurement: nothing happens
    }

    [Fact]
    public void The_reference_grows_with_N_squared_and_the_tiled_forms_with_N()
    {
        var rows = MemoryScaling.Measure([128, 256, 512], heads: 1, headDim: 16, block: 32);
        // growth from N to 2N, then from 2N to 4N: twice as much for memory linear in N (plus a constant tile), four times for N²
        double Growth(Func<MemoryScalingRow, long> f) => (double)(f(rows[2]) - f(rows[1])) / (f(rows[1]) - f(rows[0]));
        Assert.InRange(Growth(r => r.Reference), 3.7, 4.3);
        Assert.InRange(Growth(r => r.MemoryEfficient), 1.7, 2.3);
        Assert.InRange(Growth(r => r.FlashForward), 1.7, 2.3);
        Assert.InRange(Growth(r => r.FlashBackward), 1.7, 2.3);
        var b = rows[1];
        Assert.True(b.FlashForward * 4 < b.Reference, $"tiled {b.FlashForward} B vs reference {b.Reference} B at N = 256");
        // the reference at N = 256 holds at least its 256 × 256 float32 scores and weights
        Assert.True(b.Reference >= 2 * 256 * 256 * 4);
    }
}
