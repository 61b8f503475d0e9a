using AttnKit.Attention;
using AttnKit.Attention.Blockwise;
using AttnKit.Attention.Masks;
using TorchSharp;
using static TorchSharp.torch;
using static AttnKit.Tests.Attention.Blockwise.BlockwiseCases;

namespace AttnKit.Tests.Attention.Blockwise;

public class FlashAttentionTests
{
    [Theory]
    [MemberData(nameof(BlockwiseCases.Names), MemberType = typeof(BlockwiseCases))]
    public void Forward_equals_the_reference_output_and_log_sum_exp(string name)
    {
        var (q, k, v, o) = Case(name);
        using var reference = Reference(q, k, v, o);
        foreach (double? tau in new double?[] { null, 0, Math.Log(256) })
        {
            using var r = FlashAttention.Forward(q, k, v, o with { RescaleThreshold = tau });
            T.Close(reference.Output, r.Output, 1e-5, $"{name} τ={tau} output");
            var finite = reference.LogSumExp!.isfinite();
            Assert.True(finite.eq(r.LogSumExp.isfinite()).all().item<bool>(), $"{name}: −∞ rows differ");
            T.Close(reference.LogSumExp!.masked_fill(finite.logical_not(), 0), r.LogSumExp.masked_fill(finite.logical_not(), 0), 1e-6, $"{name} τ={tau} lse");
        }
    }

    [Theory]
    [MemberData(nameof(BlockwiseCases.Names), MemberType = typeof(BlockwiseCases))]
    public void Backward_equals_autograd_of_the_reference(string name)
    {
        var (q0, k0, v0, o) = Case(name);
        var (q, k, v) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var g = Rand(99, q0.shape[0], q0.shape[1], q0.shape[2], v0.shape[3]);
        using var reference = Reference(q, k, v, o);
        (reference.Output * g).sum().backward();
        using var fwd = FlashAttention.Forward(q0, k0, v0, o);
        var (dq, dk, dv) = FlashAttention.Backward(q0, k0, v0, fwd.Output, fwd.LogSumExp, g, o);
        T.Close(q.grad!, dq, 1e-5, name + " dq");
        T.Close(k.grad!, dk, 1e-5, name + " dk");
        T.Close(v.grad!, dv, 1e-5, name + " dv");
    }

    [Theory]
    [InlineData("causal-gqa")]
    [InlineData("softcap")]
    [InlineData("document")]
    public void Apply_backpropagates_through_the_custom_autograd_function(string name)
    {
        var (q0, k0, v0, o) = Case(name);
        var (q1, k1, v1) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var (q2, k2, v2) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var g = Rand(98, q0.shape[0], q0.shape[1], q0.shape[2], v0.shape[3]);
        (Reference(q1, k1, v1, o).Output * g).sum().backward();
        var flash = FlashAttention.Apply(q2, k2, v2, o);
        (flash * g).sum().backward();
        T.Close(q1.grad!, q2.grad!, 1e-5, "dq");
        T.Close(k1.grad!, k2.grad!, 1e-5, "dk");
        T.Close(v1.grad!, v2.grad!, 1e-5, "dv");
    }

    [Fact]
    public void Causal_skips_the_tiles_wholly_in_the_future()
    {
        // N = 16, 4 × 4 tiles: 16 tiles, of which the 6 strictly above the diagonal are skipped
        var (q, k, v) = Qkv(5, 1, 1, 1, 16, 16, 4, 4);
        using var causal = FlashAttention.Forward(q, k, v, BlockwiseOptions.Causal with { QueryBlock = 4, KeyBlock = 4 });
        Assert.Equal(16, causal.Stats.Tiles);
        Assert.Equal(10, causal.Stats.TilesComputed);
        Assert.Equal(10 * 4, causal.Stats.RowUpdates);
        using var full = FlashAttention.Forward(q, k, v, BlockwiseOptions.None with { QueryBlock = 4, KeyBlock = 4 });
        Assert.Equal(16, full.Stats.TilesComputed);
    }

    [Fact]
    public void Conditional_rescaling_rescales_less_and_gives_the_same_result()
    {
        // rising scores: keys whose dot product with the query grows with position, so the running max keeps growing a little
        var q = torch.ones(1, 1, 8, 4, device: T.Dev);
        var k = (torch.arange(64, ScalarType.Float32, T.Dev) * 0.05).view(1, 1, 64, 1).expand(1, 1, 64, 4).contiguous();
        var v = Rand(6, 1, 1, 64, 4);
        var o = new BlockwiseOptions { QueryBlock = 8, KeyBlock = 8, Scale = 1 };
        using var always = FlashAttention.Forward(q, k, v, o);
        Assert.Equal(Math.Log(256), BlockwiseOptions.FlashAttention4Threshold, 12);                // 8 in log2 units
        using var lazy = FlashAttention.Forward(q, k, v, o with { RescaleThreshold = BlockwiseOptions.FlashAttention4Threshold });
        // key j scores 0.05·j·4 = 0.2·j, so each block of 8 raises the row max by 1.6 nats. FlashAttention-2 rescales all
        // 8 rows at each of the 7 blocks after the first; with τ = log 256 ≈ 5.5 nats the max is kept for blocks 1–3
        // (+1.6, +3.2, +4.8) and refreshed only at block 4 (+6.4), then kept for blocks 5–7: 8 rows in all
        Assert.Equal(7 * 8, always.Stats.RowsRescaled);
        Assert.Equal(8, lazy.Stats.RowsRescaled);
        T.Close(always.Output, lazy.Output, 1e-6, "same output");
        T.Close(always.LogSumExp, lazy.LogSumExp, 1e-6, "same lse");
    }

    [Fact]
    public void Half_precision_inputs_give_half_outputs_close_to_the_reference()
    {
        var (q, k, v, o) = Case("causal");
        using var r = FlashAttention.Forward(q.to(ScalarType.Float16), k.to(ScalarType.Float16), v.to(ScalarType.Float16), o);
        Assert.Equal(ScalarType.Float16, r.Output.dtype);
        T.Close(Reference(q, k, v, o).Output, r.Output, 2e-3, "fp16");
    }

    [Fact]
    public void Forward_and_backward_leave_only_their_results_alive()
    {
        var (q, k, v, o) = Case("causal-gqa");
        T.NoLeak(() => { var r = FlashAttention.Forward(q, k, v, o); return [r.Output, r.LogSumExp]; });
        using var fwd = FlashAttention.Forward(q, k, v, o);
        var g = torch.ones_like(fwd.Output);
        T.NoLeak(() => { var (a, b, c) = FlashAttention.Backward(q, k, v, fwd.Output, fwd.LogSumExp, g, o with { ScoreMod = AttnKit.Attention.ScoreMods.SoftCap.Modifier(3) }); return [a, b, c]; });
    }

    [Fact]
    public void Bad_calls_say_what_was_expected()
    {
        var (q, k, v) = Qkv(7, 1, 4, 2, 8, 8, 4, 4);
        Assert.Contains("QueryBlock", Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q, k, v, new() { QueryBlock = 0 })).Message);
        Assert.Contains("KeyBlock", Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q, k, v, new() { KeyBlock = -1 })).Message);
        Assert.Contains("RescaleThreshold", Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q, k, v, new() { RescaleThreshold = double.NaN })).Message);
        Assert.Contains("multiple", Assert.Throws<ArgumentException>(() => FlashAttention.Forward(Rand(1, 1, 3, 8, 4), k, v)).Message);
        Assert.Contains("4-D", Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q.view(4, 8, 4), k, v)).Message);
        Assert.Contains("dtype", Assert.Throws<ArgumentException>(() => MemoryEfficientAttention.Compute(q, k.to(ScalarType.Float64), v)).Message);
        using var fwd = FlashAttention.Forward(q, k, v);
        Assert.Contains("gradOutput", Assert.Throws<ArgumentException>(() => FlashAttention.Backward(q, k, v, fwd.Output, fwd.LogSumExp, torch.zeros(1, 4, 8, 3, device: T.Dev))).Message);
        Assert.Contains("logSumExp", Assert.Throws<ArgumentException>(() => FlashAttention.Backward(q, k, v, fwd.Output, fwd.LogSumExp.narrow(2, 0, 4), torch.ones_like(fwd.Output))).Message);
    }
}

public class MemoryEfficientAttentionTests
{
    [Theory]
    [MemberData(nameof(BlockwiseCases.Names), MemberType = typeof(BlockwiseCases))]
    public void Equals_the_reference_outputs_and_gradients(string name)
    {
        var (q0, k0, v0, o) = Case(name);
        var (q1, k1, v1) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var (q2, k2, v2) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var g = Rand(97, q0.shape[0], q0.shape[1], q0.shape[2], v0.shape[3]);
        var reference = Reference(q1, k1, v1, o).Output;
        var chunked = MemoryEfficientAttention.Compute(q2, k2, v2, o);
        T.Close(reference, chunked, 1e-5, name + " output");
        (reference * g).sum().backward();
        (chunked * g).sum().backward();
        T.Close(q1.grad!, q2.grad!, 1e-5, name + " dq");
        T.Close(k1.grad!, k2.grad!, 1e-5, name + " dk");
        T.Close(v1.grad!, v2.grad!, 1e-5, name + " dv");
    }

    [Fact]
    public void Leaves_only_its_result_alive()
    {
        var (q, k, v, o) = Case("document");
        T.NoLeak(() => [MemoryEfficientAttention.Compute(q, k, v, o)]);
    }
}
