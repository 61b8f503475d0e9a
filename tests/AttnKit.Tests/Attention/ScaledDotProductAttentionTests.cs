using AttnKit.Attention;
using AttnKit.Attention.Masks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Attention;

public class ScaledDotProductAttentionTests
{
    static (Tensor q, Tensor k, Tensor v) Qkv(long b, long hq, long hkv, long nq, long nk, long d, long dv, int seed)
    {
        torch.manual_seed(seed);
        return (T.Randn(b, hq, nq, d), T.Randn(b, hkv, nk, d), T.Randn(b, hkv, nk, dv));
    }

    [Fact]
    public void Reference_matches_a_hand_computed_case()
    {
        // one head, one query (1, 0), keys (1, 0) and (0, 1), values (1, 2) and (3, 4), scale 1:
        // scores (1, 0); weights (e, 1)/(e + 1); output = weights·v; lse = log(e + 1)
        var q = torch.tensor(new float[] { 1, 0 }, device: T.Dev).view(1, 1, 1, 2);
        var k = torch.tensor(new float[] { 1, 0, 0, 1 }, device: T.Dev).view(1, 1, 2, 2);
        var v = torch.tensor(new float[] { 1, 2, 3, 4 }, device: T.Dev).view(1, 1, 2, 2);
        using var r = ScaledDotProductAttention.Reference(q, k, v, new() { Scale = 1, ReturnWeights = true, ReturnLogSumExp = true });
        double e = Math.E, p0 = e / (e + 1), p1 = 1 / (e + 1);
        Assert.Equal([(float)p0, (float)p1], T.Floats(r.Weights!), new FloatTolerance(1e-6f));
        Assert.Equal([(float)(p0 * 1 + p1 * 3), (float)(p0 * 2 + p1 * 4)], T.Floats(r.Output), new FloatTolerance(1e-6f));
        Assert.Equal((float)Math.Log(e + 1), T.Floats(r.LogSumExp!)[0], 1e-6f);
    }

    [Fact]
    public void Reference_default_scale_mask_and_bias_by_hand()
    {
        // D = 4, so scale = 1/2. q = (2,0,0,0); keys give raw dots 2, 4, 0 → scaled 1, 2, 0; bias (0, 0, 1) → 1, 2, 1;
        // the mask forbids key 1 → softmax over keys 0 and 2 of (1, 1) = (1/2, 0, 1/2)
        var q = torch.tensor(new float[] { 2, 0, 0, 0 }, device: T.Dev).view(1, 1, 1, 4);
        var k = torch.tensor(new float[] { 1, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0 }, device: T.Dev).view(1, 1, 3, 4);
        var v = torch.tensor(new float[] { 10, 20, 30 }, device: T.Dev).view(1, 1, 3, 1);
        var bias = torch.tensor(new float[] { 0, 0, 1 }, device: T.Dev).view(1, 1, 1, 3);
        var mask = torch.tensor(new[] { true, false, true }, device: T.Dev).view(1, 1, 1, 3);
        using var r = ScaledDotProductAttention.Reference(q, k, v, new() { Bias = bias, MaskTensor = mask, ReturnWeights = true, ReturnLogSumExp = true });
        Assert.Equal([0.5f, 0f, 0.5f], T.Floats(r.Weights!), new FloatTolerance(1e-6f));
        Assert.Equal(20f, T.Floats(r.Output)[0], 1e-5f);
        Assert.Equal((float)(1 + Math.Log(2)), T.Floats(r.LogSumExp!)[0], 1e-6f);
    }

    [Fact]
    public void Weights_rows_sum_to_one_and_equal_softmax()
    {
        var (q, k, v) = Qkv(2, 3, 3, 5, 7, 8, 6, 1);
        using var r = ScaledDotProductAttention.Reference(q, k, v, new() { ReturnWeights = true, ReturnLogSumExp = true });
        var expected = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) / Math.Sqrt(8), -1);
        T.Close(expected, r.Weights!, 1e-6, "weights");
        T.Close(torch.matmul(expected, v), r.Output, 1e-6, "output");
        T.Close(torch.logsumexp(torch.matmul(q, k.transpose(-2, -1)) / Math.Sqrt(8), -1), r.LogSumExp!, 1e-6, "lse");
    }

    public static TheoryData<string> MaskCases => new() { "none", "causal", "window", "window-wide", "prefix", "document", "document-shared", "dilated", "sinks", "tensor", "bias", "causal+bias", "scale" };

    static AttentionOptions OptionsFor(string name, long b, long h, long nq, long nk)
    {
        torch.manual_seed(7);
        return name switch
        {
            "none" => AttentionOptions.None,
            "causal" => AttentionOptions.Causal,
            "window" => new() { Mask = Masks.SlidingWindow(3) },
            "window-wide" => new() { Mask = Masks.SlidingWindow(5), Scale = 0.4 },
            "prefix" => new() { Mask = Masks.PrefixLM(2) },
            "document-shared" => new() { Mask = Masks.Causal & Masks.Document(torch.tensor(new long[] { 0, 0, 0, 4, 4, 2, 2, 2, 0, 0, 0, 4, 4, 2, 2, 2 }, device: T.Dev).view(2, 8)) },
            "document" => new() { Mask = Masks.Document(torch.tensor(new long[] { 0, 0, 0, 1, 1, 2, 2, 2, 0, 1, 1, 1, 1, 2, 2, 3 }, device: T.Dev).view(2, 8)) & Masks.Causal },
            "dilated" => new() { Mask = Masks.DilatedWindow(2, 2) },
            "sinks" => new() { Mask = Masks.SinksAndWindow(1, 2) },
            "tensor" => new() { MaskTensor = torch.rand(b, h, nq, nk, device: T.Dev).gt(0.3) },
            "bias" => new() { Bias = T.Randn(1, h, nq, nk) },
            "causal+bias" => new() { Mask = Masks.Causal, Bias = T.Randn(b, 1, nq, nk) },
            "scale" => new() { Mask = Masks.Causal, Scale = 0.7 },
            _ => throw new ArgumentException(name),
        };
    }

    [Theory]
    [MemberData(nameof(MaskCases))]
    public void Fused_equals_reference_outputs_and_gradients(string maskCase)
    {
        foreach (var (hq, hkv) in new[] { (4L, 4L), (4L, 2L), (4L, 1L) })
        {
            foreach (var (nq, nk) in new[] { (8L, 8L), (3L, 8L), (1L, 8L) })
            {
                var (q0, k0, v0) = Qkv(2, hq, hkv, nq, nk, 16, 12, 3);
                var opts = OptionsFor(maskCase, 2, hq, nq, nk);
                var (q1, k1, v1) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
                var (q2, k2, v2) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
                using var reference = ScaledDotProductAttention.Reference(q1, k1, v1, opts);
                var fused = ScaledDotProductAttention.Fused(q2, k2, v2, opts);
                string what = $"{maskCase} Hq={hq} Hkv={hkv} Nq={nq} Nk={nk}";
                T.Close(reference.Output, fused, 1e-5, what + " output");
                var g = T.Randn(fused.shape);
                (reference.Output * g).sum().backward();
                (fused * g).sum().backward();
                T.Close(q1.grad!, q2.grad!, 1e-5, what + " dq");
                T.Close(k1.grad!, k2.grad!, 1e-5, what + " dk");
                T.Close(v1.grad!, v2.grad!, 1e-5, what + " dv");
            }
        }
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 2e-2)]
    [InlineData(ScalarType.Float16, 5e-3)]
    public void Fused_equals_reference_in_half_precision(ScalarType dtype, double tol)
    {
        foreach (var opts in new[] { AttentionOptions.None, AttentionOptions.Causal, new AttentionOptions { Mask = Masks.SlidingWindow(4) } })
        {
            var (q0, k0, v0) = Qkv(2, 4, 2, 16, 16, 32, 32, 5);
            var (q, k, v) = (T.Leaf(q0.to(dtype)), T.Leaf(k0.to(dtype)), T.Leaf(v0.to(dtype)));
            Tensor fused;
            try { fused = ScaledDotProductAttention.Fused(q, k, v, opts); }
            catch (Exception e) when (T.Dev.type == DeviceType.CPU && e is not ArgumentException)
            {
                Assert.Skip($"this CPU build of libtorch has no {dtype} attention: {e.Message}");
                return;
            }
            Assert.Equal(dtype, fused.dtype);
            // the reference in fp32 on the same rounded inputs
            using var reference = ScaledDotProductAttention.Reference(q0.to(dtype).to(ScalarType.Float32), k0.to(dtype).to(ScalarType.Float32), v0.to(dtype).to(ScalarType.Float32), opts);
            T.Close(reference.Output, fused, tol, $"{dtype} {opts.Mask?.Name ?? "none"} output");
            var g = T.Randn(fused.shape);
            (fused.to(ScalarType.Float32) * g).sum().backward();
            var (qr, kr, vr) = (T.Leaf(q0.to(dtype).to(ScalarType.Float32)), T.Leaf(k0.to(dtype).to(ScalarType.Float32)), T.Leaf(v0.to(dtype).to(ScalarType.Float32)));
            using var r2 = ScaledDotProductAttention.Reference(qr, kr, vr, opts);
            (r2.Output * g).sum().backward();
            T.Close(qr.grad!, q.grad!, 4 * tol, $"{dtype} dq");
            T.Close(kr.grad!, k.grad!, 4 * tol, $"{dtype} dk");
            T.Close(vr.grad!, v.grad!, 4 * tol, $"{dtype} dv");
        }
    }

    [Theory]
    [InlineData(ScalarType.BFloat16, 2e-2)]
    [InlineData(ScalarType.Float16, 5e-3)]
    [InlineData(ScalarType.Float32, 1e-5)]
    public void Few_queries_over_a_long_cache_equal_the_reference(ScalarType dtype, double tol)
    {
        // few queries per key/value head over a long cache (decoding steps): the query groups fold into the token axis
        foreach (var (hq, hkv, nq) in new[] { (8L, 2L, 1L), (4L, 4L, 1L), (8L, 1L, 2L) })
        {
            var (q, k, v) = Qkv(2, hq, hkv, nq, 300, 32, 16, 12);
            var (qd, kd, vd) = (q.to(dtype), k.to(dtype), v.to(dtype));
            using var reference = ScaledDotProductAttention.Reference(qd.to(ScalarType.Float32), kd.to(ScalarType.Float32), vd.to(ScalarType.Float32), AttentionOptions.Causal);
            var fused = ScaledDotProductAttention.Fused(qd, kd, vd, AttentionOptions.Causal);   // one query at the end sees every key
            Assert.Equal(dtype, fused.dtype);
            T.Close(reference.Output, fused, tol, $"{dtype} Hq={hq} Hkv={hkv} Nq={nq}");
            var scaled = ScaledDotProductAttention.Fused(qd, kd, vd, new() { Scale = 0.3 });
            using var scaledRef = ScaledDotProductAttention.Reference(qd.to(ScalarType.Float32), kd.to(ScalarType.Float32), vd.to(ScalarType.Float32), new() { Scale = 0.3 });
            T.Close(scaledRef.Output, scaled, tol, $"{dtype} scale 0.3");
        }
    }

    [Fact]
    public void Reference_in_half_precision_returns_the_input_dtype()
    {
        var (q, k, v) = Qkv(1, 2, 2, 4, 4, 8, 8, 2);
        using var r = ScaledDotProductAttention.Reference(q.to(ScalarType.BFloat16), k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16), new() { ReturnWeights = true });
        Assert.Equal(ScalarType.BFloat16, r.Output.dtype);
        Assert.Equal(ScalarType.Float32, r.Weights!.dtype);
    }

    [Theory]
    [InlineData(4, 2)]
    [InlineData(6, 3)]
    [InlineData(4, 1)]
    public void Grouped_and_multi_query_equal_multi_head_with_repeated_heads(long hq, long hkv)
    {
        var (q, k, v) = Qkv(2, hq, hkv, 6, 6, 8, 8, 11);
        // independent repetition: query head h reads key/value head h / (hq / hkv)
        var index = torch.tensor(Enumerable.Range(0, (int)hq).Select(h => (long)(h / (hq / hkv))).ToArray(), device: T.Dev);
        var (kr, vr) = (k.index_select(1, index), v.index_select(1, index));
        foreach (var opts in new[] { AttentionOptions.None, AttentionOptions.Causal })
        {
            using var mha = ScaledDotProductAttention.Reference(q, kr, vr, opts);
            using var gqa = ScaledDotProductAttention.Reference(q, k, v, opts);
            T.Close(mha.Output, gqa.Output, 1e-6, "reference");
            T.Close(mha.Output, ScaledDotProductAttention.Fused(q, k, v, opts), 1e-5, "fused");
        }
    }

    [Fact]
    public void Causal_outputs_do_not_depend_on_future_tokens()
    {
        var (q, k, v) = Qkv(1, 2, 2, 10, 10, 8, 8, 4);
        var (q2, k2, v2) = (q.clone(), k.clone(), v.clone());
        foreach (var t in new[] { q2, k2, v2 }) t[.., .., 6..] = T.Randn(1, 2, 4, 8);
        foreach (var fused in new[] { false, true })
        {
            var a = fused ? ScaledDotProductAttention.Fused(q, k, v, AttentionOptions.Causal) : ScaledDotProductAttention.Reference(q, k, v, AttentionOptions.Causal).Output;
            var b = fused ? ScaledDotProductAttention.Fused(q2, k2, v2, AttentionOptions.Causal) : ScaledDotProductAttention.Reference(q2, k2, v2, AttentionOptions.Causal).Output;
            Assert.Equal(0.0, T.RelRms(a[.., .., ..6], b[.., .., ..6]), 6);
            Assert.True(T.RelRms(a[.., .., 6..], b[.., .., 6..]) > 1e-2, "later outputs should change");
        }
    }

    [Fact]
    public void Decoding_one_query_over_a_prefix_equals_the_last_row_of_full_causal_attention()
    {
        var (q, k, v) = Qkv(2, 4, 2, 9, 9, 8, 8, 8);
        using var full = ScaledDotProductAttention.Reference(q, k, v, AttentionOptions.Causal);
        for (long t = 0; t < 9; t++)
        {
            // the query at position t over keys 0..t: the default offset Nk − Nq puts it at t
            var step = ScaledDotProductAttention.Fused(q[.., .., (int)t..(int)(t + 1)], k[.., .., ..(int)(t + 1)], v[.., .., ..(int)(t + 1)], AttentionOptions.Causal);
            T.Close(full.Output[.., .., (int)t..(int)(t + 1)], step, 1e-5, $"t={t}");
        }
    }

    [Fact]
    public void Fully_masked_rows_give_zeros_not_nan()
    {
        var (q, k, v) = Qkv(1, 2, 2, 4, 5, 8, 8, 6);
        var allowed = torch.ones(1, 2, 4, 5, ScalarType.Bool, T.Dev);
        allowed[0, 0, 1] = torch.zeros(5, ScalarType.Bool, T.Dev);   // head 0, query 1 sees nothing
        allowed[0, 1, 3] = torch.zeros(5, ScalarType.Bool, T.Dev);   // head 1, query 3 sees nothing
        var opts = new AttentionOptions { MaskTensor = allowed, ReturnWeights = true, ReturnLogSumExp = true };
        var (q1, k1, v1) = (T.Leaf(q), T.Leaf(k), T.Leaf(v));
        using var r = ScaledDotProductAttention.Reference(q1, k1, v1, opts);
        Assert.All(T.Floats(r.Output[0, 0, 1]), x => Assert.Equal(0f, x));
        Assert.All(T.Floats(r.Weights![0, 1, 3]), x => Assert.Equal(0f, x));
        Assert.True(float.IsNegativeInfinity(T.Floats(r.LogSumExp!)[1]));
        Assert.True(float.IsFinite(T.Floats(r.LogSumExp!)[0]));
        r.Output.sum().backward();
        Assert.False(q1.grad!.isnan().any().item<bool>());

        var (q2, k2, v2) = (T.Leaf(q), T.Leaf(k), T.Leaf(v));
        var fused = ScaledDotProductAttention.Fused(q2, k2, v2, new() { MaskTensor = allowed });
        T.Close(r.Output, fused, 1e-5, "fused");
        fused.sum().backward();
        T.Close(q1.grad!, q2.grad!, 1e-5, "dq");
        T.Close(k1.grad!, k2.grad!, 1e-5, "dk");
        Assert.All(T.Floats(q2.grad![0, 0, 1]), x => Assert.Equal(0f, x));
    }

    [Fact]
    public void Compute_takes_the_fused_path_only_when_it_can()
    {
        Assert.True(ScaledDotProductAttention.CanFuse(null));
        Assert.True(ScaledDotProductAttention.CanFuse(new() { Mask = Masks.SlidingWindow(2), Bias = T.Randn(1) }));
        Assert.False(ScaledDotProductAttention.CanFuse(new() { ReturnWeights = true }));
        Assert.False(ScaledDotProductAttention.CanFuse(new() { ReturnLogSumExp = true }));
        Assert.False(ScaledDotProductAttention.CanFuse(new() { ScoreMod = AttnKit.Attention.ScoreMods.SoftCap.Modifier(5) }));
        var (q, k, v) = Qkv(1, 2, 2, 3, 3, 4, 4, 9);
        using var r = ScaledDotProductAttention.Compute(q, k, v, new() { ReturnWeights = true });
        Assert.NotNull(r.Weights);
        Assert.Throws<ArgumentException>(() => ScaledDotProductAttention.Fused(q, k, v, new() { ReturnWeights = true }));
    }

    [Fact]
    public void Public_operations_leave_no_tensors_behind()
    {
        var (q, k, v) = Qkv(2, 4, 2, 6, 6, 8, 8, 10);
        var bias = T.Randn(1, 4, 6, 6);
        T.NoLeak(() => [ScaledDotProductAttention.Fused(q, k, v)]);
        T.NoLeak(() => [ScaledDotProductAttention.Fused(q, k, v, AttentionOptions.Causal)]);
        T.NoLeak(() => [ScaledDotProductAttention.Fused(q, k, v, new() { Mask = Masks.SlidingWindow(2), Bias = bias })]);
        T.NoLeak(() => { var r = ScaledDotProductAttention.Reference(q, k, v, new() { Mask = Masks.Causal, ReturnWeights = true, ReturnLogSumExp = true, ScoreMod = AttnKit.Attention.ScoreMods.Alibi.Modifier(4) }); return [r.Output, r.Weights, r.LogSumExp]; });
        T.NoLeak(() => { var r = ScaledDotProductAttention.Compute(q, k, v); return [r.Output]; });
        T.NoLeak(() => [Masks.SinksAndWindow(1, 3).Materialize(2, 4, 6, 6, T.Dev)]);
        T.NoLeak(() => [(Masks.Causal & !Masks.SlidingWindow(2)).ToMatrix(6, 6)]);
        T.NoLeak(() => [ScaledDotProductAttention.RepeatHeads(k, 2)]);
    }
}
