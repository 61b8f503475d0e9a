using AttnKit.Attention;
using AttnKit.Attention.Blockwise;
using AttnKit.Attention.Masks;
using AttnKit.Attention.Parallel;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Attention.Fused;

/// <summary>The fused kernels (TorchScript) and what is built on them, against the dense float32 reference.</summary>
public class FusedKernelsTests
{
    static (Tensor Q, Tensor K, Tensor V) Qkv(long seed, long b, long hq, long hkv, long nq, long nk, long d, ScalarType dtype = ScalarType.Float32)
    {
        var gen = new Generator((ulong)seed);
        Tensor R(params long[] s) => torch.randn(s, generator: gen).to(dtype, T.Dev);
        return (R(b, hq, nq, d), R(b, hkv, nk, d), R(b, hkv, nk, d));
    }

    static double Tol(ScalarType dt) => dt == ScalarType.Float32 ? 2e-5 : 2e-2;

    [Fact]
    public void The_script_compiles_and_every_operation_runs_through_it_on_this_device()
    {
        Assert.True(FusedKernels.Available, FusedKernels.CompileError);
        var (q, k, v) = Qkv(1, 1, 4, 2, 8, 8, 16);
        FusedKernels.Attention(q, k, v);
        FusedKernels.AttentionWithLogSumExp(q, k, v);
        var impl = FusedKernels.Implementations;
        string dev = T.Dev.type.ToString().ToLowerInvariant();
        Assert.StartsWith("torchscript", impl.First(kv => kv.Key.StartsWith("sdpa on " + dev, StringComparison.Ordinal)).Value);
        Assert.StartsWith("torchscript", impl.First(kv => kv.Key.StartsWith("attention with log-sum-exp on " + dev, StringComparison.Ordinal)).Value);
    }

    public static TheoryData<long, long, bool, string> Layouts() => new()
    {
        { 4, 4, false, "fp32" }, { 4, 4, true, "fp32" }, { 8, 2, false, "fp32" }, { 8, 2, true, "fp32" }, { 4, 1, true, "fp32" },
        { 4, 4, true, "bf16" }, { 8, 2, false, "bf16" }, { 8, 2, true, "bf16" },
    };

    static ScalarType DType(string name) => name == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Attention_with_grouped_heads_and_a_scale_equals_the_reference(long hq, long hkv, bool causal, string dtype)
    {
        using var scope = torch.NewDisposeScope();
        var dt = DType(dtype);
        var (q, k, v) = Qkv(2, 2, hq, hkv, 12, 12, 16, dt);
        var options = new AttentionOptions { Mask = causal ? Masks.Causal : null, Scale = 0.3 };
        var reference = ScaledDotProductAttention.Reference(q, k, v, options).Output;
        T.Close(reference, FusedKernels.Attention(q, k, v, null, causal, 0.3), Tol(dt), "fused");
        T.Close(reference, ScaledDotProductAttention.Fused(q, k, v, options), Tol(dt), "Fused");
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Attention_with_log_sum_exp_equals_the_reference(long hq, long hkv, bool causal, string dtype)
    {
        using var scope = torch.NewDisposeScope();
        var dt = DType(dtype);
        var (q, k, v) = Qkv(3, 2, hq, hkv, 10, 10, 16, dt);
        var reference = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { Mask = causal ? Masks.Causal : null, ReturnLogSumExp = true });
        var (o, lse) = FusedKernels.AttentionWithLogSumExp(q, k, v, causal);
        Assert.Equal(dt, o.dtype);
        Assert.Equal(ScalarType.Float32, lse.dtype);
        T.Close(reference.Output, o, Tol(dt), "output");
        T.Close(reference.LogSumExp!, lse, dt == ScalarType.Float32 ? 1e-6 : 1e-2, "log-sum-exp");
    }

    [Theory]
    [InlineData(4L, 4L)]
    [InlineData(8L, 2L)]
    public void Gradients_through_the_fused_call_equal_the_reference(long hq, long hkv)
    {
        using var scope = torch.NewDisposeScope();
        var (q0, k0, v0) = Qkv(4, 1, hq, hkv, 9, 9, 8);
        var (q1, k1, v1) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var (q2, k2, v2) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var g = torch.randn(1, hq, 9, 8, generator: new Generator(5)).to(T.Dev);
        (ScaledDotProductAttention.Reference(q1, k1, v1, new AttentionOptions { Mask = Masks.Causal, Scale = 0.2 }).Output * g).sum().backward();
        (FusedKernels.Attention(q2, k2, v2, null, true, 0.2) * g).sum().backward();
        T.Close(q1.grad!, q2.grad!, 1e-5, "dq");
        T.Close(k1.grad!, k2.grad!, 1e-5, "dk");
        T.Close(v1.grad!, v2.grad!, 1e-5, "dv");
    }

    [Fact]
    public void Causal_log_sum_exp_needs_a_square_block_and_bad_shapes_are_refused()
    {
        var (q, k, v) = Qkv(6, 1, 4, 2, 3, 5, 8);
        Assert.Contains("Nq = Nk", Assert.Throws<ArgumentException>(() => FusedKernels.AttentionWithLogSumExp(q, k, v, causal: true)).Message);
        Assert.Contains("multiple", Assert.Throws<ArgumentException>(() => FusedKernels.Attention(q, torch.randn(1, 3, 5, 8).to(T.Dev), torch.randn(1, 3, 5, 8).to(T.Dev))).Message);
        Assert.Contains("head dim", Assert.Throws<ArgumentException>(() => FusedKernels.Attention(q, torch.randn(1, 2, 5, 4).to(T.Dev), v)).Message);
    }

    [Fact]
    public void The_old_binding_path_gives_the_same_results()
    {
        using var scope = torch.NewDisposeScope();
        var (q, k, v) = Qkv(7, 2, 8, 2, 1, 33, 16);
        var fast = ScaledDotProductAttention.Fused(q, k, v);
        FusedKernels.UseTorchScript = false;
        try { T.Close(fast, ScaledDotProductAttention.Fused(q, k, v), 1e-5, "binding"); }
        finally { FusedKernels.UseTorchScript = true; }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(64)]
    public void Split_kv_equals_the_single_call(int chunks)
    {
        using var scope = torch.NewDisposeScope();
        foreach (var (b, hq, hkv, nq) in new (long, long, long, long)[] { (1, 8, 2, 1), (3, 4, 4, 1), (2, 8, 1, 3) })
        {
            var (q, k, v) = Qkv(8, b, hq, hkv, nq, 130, 16);                                  // 130 = 7·18 + 4: uneven for 7 and 64
            var single = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { ReturnLogSumExp = true });
            using var split = SplitKvDecode.ComputeWithLogSumExp(q, k, v, chunks);
            T.Close(single.Output, split.Output, 2e-5, $"split-KV output, {chunks} chunks, B={b} Hq={hq} Hkv={hkv}");
            T.Close(single.LogSumExp!, split.LogSumExp, 1e-6, "split-KV log-sum-exp");
            T.Close(ScaledDotProductAttention.Fused(q, k, v), SplitKvDecode.Compute(q, k, v, chunks, null), 2e-5, "against the fused single call");
        }
    }

    [Fact]
    public void Split_kv_reads_a_narrowed_static_cache_as_is()
    {
        using var scope = torch.NewDisposeScope();
        var (q, kBuf, vBuf) = Qkv(9, 2, 8, 2, 1, 200, 16);                                    // a preallocated cache of 200 slots
        var (k, v) = (kBuf.narrow(2, 0, 121), vBuf.narrow(2, 0, 121));                        // holding 121 tokens
        T.Close(ScaledDotProductAttention.Reference(q, k, v).Output, SplitKvDecode.Compute(q, k, v, 8), 2e-5, "narrowed view");
        T.Close(ScaledDotProductAttention.Reference(q, k.contiguous(), v.contiguous()).Output, SplitKvDecode.Compute(q, k.transpose(0, 1).contiguous().transpose(0, 1), v, 8), 2e-5, "non-uniform strides");
        Assert.Contains("chunks", Assert.Throws<ArgumentException>(() => SplitKvDecode.Compute(q, k, v, 0)).Message);
        Assert.Contains("at most", Assert.Throws<ArgumentException>(() => SplitKvDecode.Compute(q, k, v, 122)).Message);
    }

    [Theory]
    [InlineData("none", 4L, 4L)]
    [InlineData("causal", 4L, 4L)]
    [InlineData("causal", 8L, 2L)]
    public void Fused_tiles_flash_attention_equals_the_reference(string mask, long hq, long hkv)
    {
        using var scope = torch.NewDisposeScope();
        var (q, k, v) = Qkv(10, 2, hq, hkv, 40, 40, 16);
        var options = new BlockwiseOptions { Mask = mask == "causal" ? Masks.Causal : null, QueryBlock = 16, KeyBlock = 16, FusedTiles = true };
        var reference = ScaledDotProductAttention.Reference(q, k, v, options.ToAttentionOptions() with { ReturnLogSumExp = true });
        using var fused = FlashAttention.Forward(q, k, v, options);
        T.Close(reference.Output, fused.Output, 2e-5, "output");
        T.Close(reference.LogSumExp!, fused.LogSumExp, 1e-6, "log-sum-exp");
        if (mask == "causal") Assert.Equal(3 * 4 / 2, fused.Stats.TilesComputed);          // 40 tokens in 16-token blocks: 3 query blocks, tiles on and below the diagonal
        using var uneven = FlashAttention.Forward(q, k, v, options with { QueryBlock = 16, KeyBlock = 24 });   // diagonal tiles cut unevenly: the per-tile form serves them
        T.Close(reference.Output, uneven.Output, 2e-5, "uneven tiles");
    }

    [Fact]
    public void Fused_tiles_backpropagate_through_the_recomputing_backward()
    {
        using var scope = torch.NewDisposeScope();
        var (q0, k0, v0) = Qkv(11, 1, 2, 2, 24, 24, 8);
        var (q1, k1, v1) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var (q2, k2, v2) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var g = torch.randn(1, 2, 24, 8, generator: new Generator(12)).to(T.Dev);
        (ScaledDotProductAttention.Reference(q1, k1, v1, AttentionOptions.Causal).Output * g).sum().backward();
        (FlashAttention.Apply(q2, k2, v2, BlockwiseOptions.Causal with { QueryBlock = 8, KeyBlock = 8, FusedTiles = true }) * g).sum().backward();
        T.Close(q1.grad!, q2.grad!, 1e-5, "dq");
        T.Close(k1.grad!, k2.grad!, 1e-5, "dk");
        T.Close(v1.grad!, v2.grad!, 1e-5, "dv");
    }

    [Fact]
    public void Fused_tiles_refuse_masks_they_cannot_split()
    {
        var (q, k, v) = Qkv(13, 1, 2, 2, 16, 16, 8);
        var options = new BlockwiseOptions { Mask = Masks.SlidingWindow(4), FusedTiles = true };
        Assert.Contains("FusedTiles", Assert.Throws<ArgumentException>(() => FlashAttention.Forward(q, k, v, options)).Message);
    }

    [Theory]
    [InlineData("contiguous", 4, true)]
    [InlineData("zig-zag", 4, true)]
    [InlineData("striped", 4, true)]
    [InlineData("zig-zag", 2, false)]
    public void Ring_attention_with_fused_tiles_equals_the_reference(string layoutName, int p, bool causal)
    {
        using var scope = torch.NewDisposeScope();
        var (q, k, v) = Qkv(14, 2, 8, 2, 32, 32, 16);
        SequenceLayout layout = layoutName switch { "contiguous" => new ContiguousLayout(32, p), "striped" => new StripedLayout(32, p), _ => new ZigZagLayout(32, p) };
        var options = (causal ? BlockwiseOptions.Causal : BlockwiseOptions.None) with { FusedTiles = true };
        var group = ShardGroup.Create(p, T.Dev);
        using var ring = RingAttention.Forward(q, k, v, group, layout, options);
        T.Close(ScaledDotProductAttention.Reference(q, k, v, options.ToAttentionOptions()).Output, ring.Output, 2e-5, $"{layoutName} P={p}");
        Assert.True(ring.SideBySide);                                                            // every shard the same tiles (striped: 8 one-token runs each)
        foreach (var device in new[] { new Device(T.Dev.type), new Device(T.Dev.type, T.Dev.type == DeviceType.CUDA ? 0 : -1) }) // "cuda" and "cuda:0" name one device
            using (var named = RingAttention.Forward(q, k, v, ShardGroup.Create(p, device), layout, options))
                Assert.True(named.SideBySide);
        using var teaching = RingAttention.Forward(q, k, v, group, layout, options with { FusedTiles = false });
        Assert.Equal(teaching.BlocksSkipped, ring.BlocksSkipped);                                // the simulated ring side by side skips and sends what shard by shard does
        Assert.Equal(teaching.Transfers.Select(t => (t.Step, t.From, t.To, t.Bytes)), ring.Transfers.Select(t => (t.Step, t.From, t.To, t.Bytes)));
        using var unsynced = RingAttention.Forward(q, k, v, group, layout, options with { SynchronizeSteps = false });
        Assert.All(unsynced.StepMilliseconds, ms => Assert.True(double.IsNaN(ms)));
        T.Close(ring.Output, unsynced.Output, 0, "unsynchronized");
    }

    [Fact]
    public void Fused_norm_and_rotation_equal_the_op_by_op_forms_exactly()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var norm = new AttnKit.Models.RmsNorm(16, 1e-5, T.Dev);
        var rope = new AttnKit.Positional.RotaryEmbedding(8);
        var x = torch.randn(2, 3, 16).to(T.Dev);
        var h = torch.randn(2, 4, 5, 12).to(T.Dev);
        var fused = (norm.forward(x), rope.ApplyFrom(h, 7));
        FusedKernels.UseTorchScript = false;
        try
        {
            Assert.Equal(0.0, (norm.forward(x) - fused.Item1).abs().max().item<float>());
            Assert.Equal(0.0, (rope.ApplyFrom(h, 7) - fused.Item2).abs().max().item<float>());
        }
        finally { FusedKernels.UseTorchScript = true; }
        rope.Dispose();
    }

    [Theory]
    [InlineData(8, 8, 0L)]
    [InlineData(8, 8, 1027L)]
    [InlineData(12, 8, 37L)]
    public void Rotation_at_one_position_by_its_matrix_equals_the_elementwise_rotation(int channels, int rotary, long position)
    {
        using var scope = torch.NewDisposeScope();
        using var rope = new AttnKit.Positional.RotaryEmbedding(rotary);
        var x = torch.randn(2, 3, 4, channels).to(T.Dev);
        var expected = rope.Apply(x, torch.full(4, position, ScalarType.Int64, T.Dev));          // every token at that position
        T.Close(expected, rope.ApplyAt(x, position), 1e-6, $"position {position}");
        T.NoLeak(() => [rope.ApplyAt(x, position)]);
    }

    [Fact]
    public void A_log_sum_exp_merge_in_place_equals_the_merge_and_takes_views()
    {
        using var scope = torch.NewDisposeScope();
        var (q, k, v) = Qkv(21, 2, 4, 2, 6, 10, 8);
        var a = FusedKernels.AttentionWithLogSumExp(q, k.narrow(2, 0, 4), v.narrow(2, 0, 4));
        var b = FusedKernels.AttentionWithLogSumExp(q, k.narrow(2, 4, 6), v.narrow(2, 4, 6));
        var reference = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { ReturnLogSumExp = true });
        var (o, l) = (torch.zeros(2, 4, 12, 8).to(T.Dev), torch.full(new long[] { 2, 4, 12 }, double.NegativeInfinity).to(T.Dev));
        var (ov, lv) = (o.narrow(2, 3, 6), l.narrow(2, 3, 6));                                    // accumulators inside a larger buffer
        LogSumExpMerge.MergeInto(ov, lv, a.Output, a.LogSumExp);                                  // into an empty accumulator: the part itself
        T.Close(a.Output, ov, 1e-7, "first part");
        LogSumExpMerge.MergeInto(ov, lv, b.Output, b.LogSumExp);
        T.Close(reference.Output, ov, 2e-6, "merged output");
        T.Close(reference.LogSumExp!, lv, 1e-6, "merged log-sum-exp");
        Assert.Equal(0f, o.narrow(2, 0, 3).abs().max().item<float>());                           // the rest of the buffer untouched
        var empty = PartialAttention.Empty(2, 4, 6, 8, T.Dev);
        LogSumExpMerge.MergeInto(ov, lv, empty.Output, empty.LogSumExp);                          // an empty part changes nothing
        T.Close(reference.Output, ov, 2e-6, "after an empty part");
        Assert.Contains("partOutput", Assert.Throws<ArgumentException>(() => LogSumExpMerge.MergeInto(ov, lv, a.Output.narrow(3, 0, 4), a.LogSumExp)).Message);
        Assert.Contains("float32", Assert.Throws<ArgumentException>(() => LogSumExpMerge.MergeInto(ov, lv.to(ScalarType.Float64), a.Output, a.LogSumExp)).Message);
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(3L)]
    public void Every_decoding_path_equals_the_reference(long nq)
    {
        using var scope = torch.NewDisposeScope();
        var (q, k, v) = Qkv(22, 2, 8, 2, nq, 40, 16);
        var reference = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { Scale = 0.2, QueryOffset = 40 - nq }).Output;
        T.Close(reference, FusedKernels.TorchSharpAttention(q, k, v, null, false, 0.2, 4), 2e-5, "folded groups");
        T.Close(reference, FusedKernels.ExpandedHeads(q, k, v, 0.2, 4), 2e-5, "expanded heads");
        T.Close(reference, FusedKernels.Decode(q, k, v, 0.2, 4, nq, 40), 2e-5, "the rule");
        if (T.Dev.type != DeviceType.CUDA) Assert.Null(FusedKernels.FlashWindow(q, k, v, 4, null));        // the flash window is CUDA's: elsewhere the blockwise path
    }

    [Fact]
    public void Fused_calls_leave_no_tensors_alive()
    {
        var (q, k, v) = Qkv(15, 1, 8, 2, 1, 64, 16);
        T.NoLeak(() => [FusedKernels.Attention(q, k, v)]);
        T.NoLeak(() => { var (o, l) = FusedKernels.AttentionWithLogSumExp(q, k, v); return [o, l]; });
        T.NoLeak(() => [SplitKvDecode.Compute(q, k, v, 5)]);
        T.NoLeak(() => { var r = FlashAttention.Forward(q, k, v, new BlockwiseOptions { QueryBlock = 1, KeyBlock = 16, FusedTiles = true }); return [r.Output, r.LogSumExp]; });
        var (q4, k4, v4) = Qkv(16, 1, 4, 2, 32, 32, 8);
        T.NoLeak(() => [RingAttention.Forward(q4, k4, v4, ShardGroup.Create(4, T.Dev), new ZigZagLayout(32, 4), BlockwiseOptions.Causal with { FusedTiles = true }).Output]);
        T.NoLeak(() => [ScaledDotProductAttention.Fused(q4, k4, v4, new AttentionOptions { Mask = Masks.SlidingWindow(5) })]);
    }
}
