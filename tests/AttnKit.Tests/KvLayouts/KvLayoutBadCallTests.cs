using AttnKit.Attention.KvLayouts;
using AttnKit.Exercises;
using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.KvLayouts;

[Collection("global RNG")]
public class KvLayoutBadCallTests
{
    static readonly TinyLmConfig Base = KvLayoutTests.Base;

    static void Throws(string expected, Action call) => Assert.Contains(expected, Assert.Throws<ArgumentException>(call).Message);

    private sealed class Unknown() : DecoderAttention("unknown")
    {
        public override Tensor Forward(Tensor x, AttentionStep step) => x.alias();
        public override long KvBytesPerToken(int elementBytes) => 0;
    }

    [Fact]
    public void Bad_layout_configurations_and_calls_throw_argument_exceptions_naming_the_problem()
    {
        Throws("RotaryDim", () => new MultiHeadLatentAttention(Base, new MlaOptions { LatentDim = 8 }));            // decoupled with every channel rotated
        Throws("LatentDim", () => new MultiHeadLatentAttention(Base with { RotaryDim = 4 }, new MlaOptions { LatentDim = 0 }));
        Throws("Absorbed", () => new MultiHeadLatentAttention(Base, new MlaOptions { LatentDim = 8, DecoupledRope = false }) { Absorbed = true });
        Throws("QueryRank", () => new TensorProductAttention(Base, new TpaOptions { QueryRank = 0 }));
        Throws("kvHeads", () => new SparseQueryAttention(Base, 4, 3));
        Throws("value-shift", () => new CompressedConvolutionalAttention(Base with { Heads = 1, ModelDim = 8, HeadDim = 3, RotaryDim = 2 }));
        Throws("sharingFactor", () => new CrossLayerAttention(Base, 0, 0));

        using var scope = torch.NewDisposeScope();
        var x = T.Randn(1, 3, 32);
        var pos = torch.arange(3, ScalarType.Int64, T.Dev);
        var mla = new MultiHeadLatentAttention(Base with { RotaryDim = 4 }, new MlaOptions { LatentDim = 8 });
        Throws("step.Rope", () => mla.Forward(x, new AttentionStep { Layer = 0, Positions = pos, Rope = new Positional.RotaryEmbedding(8), Shared = new Dictionary<string, object>() }));
        var consumer = new CrossLayerAttention(Base, 1, 2);
        Throws("step.Shared", () => consumer.Forward(x, new AttentionStep { Layer = 1, Positions = pos, Shared = new Dictionary<string, object>() }));
        Throws("step.Layer", () => consumer.Forward(x, new AttentionStep { Layer = 0, Positions = pos, Shared = new Dictionary<string, object>() }));
        Throws("model width", () => mla.Forward(T.Randn(1, 3, 16), new AttentionStep { Layer = 0, Positions = pos, Shared = new Dictionary<string, object>() }));
        Throws("(B, N, d)", () => new TensorProductAttention(Base).Forward(T.Randn(3, 32), new AttentionStep { Layer = 0, Positions = pos, Shared = new Dictionary<string, object>() }));
        Throws("R·H", () => TensorProductAttention.Contract(T.Randn(1, 2, 5), T.Randn(1, 2, 8), 2, 3));

        Throws("groups", () => GqaConversion.MeanPoolHeads(T.Randn(8, 4), 4, 3));
        Throws("rows", () => GqaConversion.MeanPoolHeads(T.Randn(9, 4), 4, 2));
        Throws("weight", () => GqaConversion.MeanPoolHeads(T.Randn(2, 8, 4), 4, 2));
        torch.manual_seed(1);
        using var mha = new TinyLm(Base, T.Dev);
        using var tpa = new TinyLm(Base with { Attention = (c, _) => new TensorProductAttention(c) }, T.Dev);
        Throws("kvHeads", () => GqaConversion.ToGqa(mha, 3));
        Throws("LlamaAttention", () => GqaConversion.ToGqa(tpa, 1));
        Throws("LlamaAttention", () => TransMla.ToMla(tpa));
        Throws("latentRank", () => TransMla.ToMla(mha, 0));
        Throws("latentRank", () => TransMla.ToMla(mha, 65));
        using var biased = new TinyLm(Base with { QkvBias = true }, T.Dev);
        Throws("QkvBias", () => TransMla.ToMla(biased));
        Throws("no cost formula", () => KvLayoutAccounting.Cost(new Unknown(), 32));
        Throws("LlamaAttention or MultiHeadLatentAttention", () => QueryKeySpectrum.Maps(tpa.Layers[0].Attention));
        Throws("tokens", () => KvLayoutAccounting.MeasuredKvBytesPerToken(mha, 0));
    }

    [Fact]
    public void The_spectrum_of_w_q_w_k_is_that_of_the_sum_over_heads_and_the_mp_law_is_a_density()
    {
        torch.manual_seed(3);
        using var gqa = new TinyLm(Base with { KvHeads = 2 }, T.Dev);
        using var scope = torch.NewDisposeScope();
        var layer = (LlamaAttention)gqa.Layers[0].Attention;
        var (wq, wk, _, _) = layer.Projections;
        var m = torch.zeros(32, 32, device: T.Dev);
        for (int h = 0; h < 4; h++) m = m + torch.matmul(wq.weight!.narrow(0, h * 8, 8).t(), wk.weight!.narrow(0, h / 2 * 8, 8));
        T.Close(m, QueryKeySpectrum.Product(layer), 1e-6, "W_Q·W_Kᵀ");
        var diag = QueryKeySpectrum.Diagnose(layer);
        Assert.Equal(32, diag.Eigenvalues.Length);
        Assert.True(diag.Eigenvalues.Zip(diag.Eigenvalues.Skip(1)).All(p => p.First >= p.Second - 1e-12), "largest first");
        Assert.Equal(4 * diag.Eigenvalues.Average(), diag.MpEdge, 12);
        Assert.InRange(diag.StableRank, 1, 32);
        // M has rank ≤ Hq·D = 32 but GQA's keys repeat: rank ≤ Hkv·D = 16, so half the eigenvalues vanish
        Assert.True(diag.Eigenvalues.Skip(16).All(x => x < 1e-9 * diag.Eigenvalues[0]));
        double integral = Enumerable.Range(0, 40000).Sum(i => QueryKeySpectrum.MarchenkoPasturDensity((i + 0.5) * 4.0 / 40000, 1.0)) * 4.0 / 40000;
        Assert.InRange(integral, 0.98, 1.0001);
        using var mla = new TinyLm(Base with { RotaryDim = 4, Attention = (c, _) => new MultiHeadLatentAttention(c, new MlaOptions { LatentDim = 6 }) }, T.Dev);
        var (mq, mk) = QueryKeySpectrum.Maps(mla.Layers[0].Attention);
        Assert.Equal([4L, 8, 32], mq.shape);
        T.Close(mk[0].narrow(0, 0, 4), mk[3].narrow(0, 0, 4), 0, "the decoupled rotary key is shared by the heads");
        Assert.True(QueryKeySpectrum.Diagnose(mla.Layers[0].Attention).Eigenvalues.Skip(4 + 6).All(x => x < 1e-6), "rank ≤ d_r + d_c: the shared rotary key has rank d_r");
    }
}

/// <summary>The notebook's exercises against right and wrong answers.</summary>
[Collection(AttnKit.Tests.Exercises.GradeChannelCollection.Name)] // Exercise.Check reads the grade channel's variables
public class KvLayoutExerciseTests
{
    [Fact]
    public void The_kv_layout_exercises_pass_with_the_right_answer_and_fail_with_a_wrong_one()
    {
        Assert.True(Exercise.Check("kv-layouts.gqa-groups", (Func<Tensor, long, Tensor>)((k, g) => k.repeat_interleave(g, dim: 1))).Passed);
        Assert.False(Exercise.Check("kv-layouts.gqa-groups", (Func<Tensor, long, Tensor>)((k, g) => k.repeat(1, g, 1, 1))).Passed); // tiles instead of grouping
        Assert.True(Exercise.Check("kv-layouts.mean-pool", (Func<Tensor, long, long, Tensor>)((w, h, g) => w.reshape(g, h / g, -1, w.shape[1]).mean([1]).reshape(-1, w.shape[1]))).Passed);
        Assert.False(Exercise.Check("kv-layouts.mean-pool", (Func<Tensor, long, long, Tensor>)((w, h, g) => w.reshape(h / g, g, -1, w.shape[1]).mean([0]).reshape(-1, w.shape[1]))).Passed); // strided groups
        Assert.True(Exercise.Check("kv-layouts.tensor-product", (Func<Tensor, Tensor, long, long, Tensor>)((a, b, r, h) =>
            torch.einsum("bnrh,bnrd->bhnd", a.view(a.shape[0], a.shape[1], r, h), b.view(b.shape[0], b.shape[1], r, -1)) / r)).Passed);
        Assert.False(Exercise.Check("kv-layouts.tensor-product", (Func<Tensor, Tensor, long, long, Tensor>)((a, b, r, h) =>
            torch.einsum("bnrh,bnrd->bhnd", a.view(a.shape[0], a.shape[1], r, h), b.view(b.shape[0], b.shape[1], r, -1)))).Passed); // forgot 1/R
    }
}
