using AttnKit.Attention;
using AttnKit.Attention.KvLayouts;
using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.KvLayouts;

[Collection("global RNG")]
public class KvLayoutTests
{
    internal static readonly TinyLmConfig Base = new() { VocabSize = 37, ModelDim = 32, Layers = 2, Heads = 4 };

    /// <summary>Every layout of the notebook on a small model (D = 8 unless said).</summary>
    internal static TinyLmConfig Layout(string name) => name switch
    {
        "mha" => Base with { KvHeads = 4 },
        "mqa" => Base with { KvHeads = 1 },
        "gqa" => Base with { KvHeads = 2 },
        "mla" => Base with { RotaryDim = 4, Attention = (c, _) => new MultiHeadLatentAttention(c, new MlaOptions { LatentDim = 12 }), AttentionName = name },
        "mla-q" => Base with { RotaryDim = 2, Attention = (c, _) => new MultiHeadLatentAttention(c, new MlaOptions { LatentDim = 10, QueryLatentDim = 16, ValueHeadDim = 6 }), AttentionName = name },
        "mla-absorbed" => Base with { RotaryDim = 4, Attention = (c, _) => new MultiHeadLatentAttention(c, new MlaOptions { LatentDim = 12 }) { Absorbed = true }, AttentionName = name },
        "mla-prerope" => Base with { Attention = (c, _) => new MultiHeadLatentAttention(c, new MlaOptions { LatentDim = 12, DecoupledRope = false }), AttentionName = name },
        "tpa" => Base with { Attention = (c, _) => new TensorProductAttention(c), AttentionName = name },
        "cca" => Base with { HeadDim = 4, Attention = (c, _) => new CompressedConvolutionalAttention(c), AttentionName = name },
        "ccgqa" => Base with { HeadDim = 4, KvHeads = 2, Attention = (c, _) => new CompressedConvolutionalAttention(c, new CcaOptions { SequenceKernel = 2, HeadKernel = 4 }), AttentionName = name },
        "sqa" => Base with { Attention = (c, _) => new SparseQueryAttention(c, 2, 1), AttentionName = name },
        "cla" => Base with { Layers = 3, KvHeads = 1, Attention = (c, i) => new CrossLayerAttention(c, i, 2), AttentionName = name },
        _ => throw new ArgumentException(name),
    };

    internal static TinyLm Model(string name, long seed = 1)
    {
        torch.manual_seed(seed);
        var model = new TinyLm(Layout(name), T.Dev);
        if (name.StartsWith("cca") || name.StartsWith("ccgqa"))
        {
            // the kit initialises convolutions near zero; give them weight so that the test sees them work
            using var noGrad = torch.no_grad();
            foreach (var (n, p) in model.named_parameters())
                if (n.Contains("conv_qk") || n.EndsWith("temp")) p.copy_(torch.randn_like(p) * 0.5);
        }
        return model;
    }

    public static TheoryData<string> Names => new() { "mha", "mqa", "gqa", "mla", "mla-q", "mla-absorbed", "mla-prerope", "tpa", "cca", "ccgqa", "sqa", "cla" };

    [Theory]
    [MemberData(nameof(Names))]
    public void Cached_decoding_equals_recomputation_and_the_cache_holds_what_the_formula_says(string name)
    {
        using var model = Model(name);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = torch.randint(0, 37, [2, 12], ScalarType.Int64, generator: new Generator(3)).to(T.Dev);
        var full = model.Forward(tokens);                                                  // (B, N, V)
        using var cache = model.NewCache();
        var chunks = new List<Tensor> { model.Forward(tokens.narrow(1, 0, 5), cache) };
        for (int i = 5; i < 9; i++) chunks.Add(model.Forward(tokens.narrow(1, i, 1), cache));
        chunks.Add(model.Forward(tokens.narrow(1, 9, 3), cache));
        T.Close(full, torch.cat(chunks, 1), T.Dev.type == DeviceType.CUDA ? 1e-4 : 1e-5, $"{name}: cached logits");   // cuDNN convolutions may use TF32 on CUDA
        Assert.Equal(model.KvBytesPerToken(4) * 2 * 12, cache.StorageBytes);               // fp32 · batch 2 · 12 tokens
        Assert.Equal(KvLayoutAccounting.Cost(model).KvElementsPerToken * 4, KvLayoutAccounting.MeasuredKvBytesPerToken(model, 7));
        Assert.True(T.RelRms(full.narrow(1, 0, 11), model.Forward(tokens.narrow(1, 0, 11)).narrow(1, 0, 11)) < 1e-5, "causal: later tokens do not change earlier logits");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Forward_with_a_cache_leaves_no_tensors_behind(string name)
    {
        using var model = Model(name);
        using var tokens = torch.randint(0, 37, [1, 6], ScalarType.Int64, generator: new Generator(5)).to(T.Dev);
        using var cache = model.NewCache();
        using var one = tokens.narrow(1, 0, 1);
        using (var first = model.Forward(tokens, cache)) { }                               // layer states are created once, then replaced
        T.NoLeak(() => [model.Forward(one, cache)]);
        T.NoLeak(() => [model.Forward(tokens)]);
    }

    [Fact]
    public void Grouped_query_attention_matches_its_definition_head_by_head()
    {
        using var model = Model("gqa");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var layer = (LlamaAttention)model.Layers[0].Attention;
        var (wq, wk, wv, wo) = layer.Projections;
        var x = T.Randn(1, 5, 32);
        var step = new AttentionStep { Layer = 0, Positions = torch.arange(5, ScalarType.Int64, T.Dev), Shared = new Dictionary<string, object>() };
        var actual = layer.Forward(x, step);
        // definition: query head h reads key/value head h / (Hq / Hkv) = h / 2, causal softmax(q·kᵀ/√D)·v, heads concatenated, ·W_O
        var heads = new List<Tensor>();
        var causal = torch.ones(5, 5, ScalarType.Bool, T.Dev).tril();
        for (int h = 0; h < 4; h++)
        {
            int g = h / 2;
            var q = torch.matmul(x[0], wq.weight!.narrow(0, h * 8, 8).t());               // (N, D)
            var k = torch.matmul(x[0], wk.weight!.narrow(0, g * 8, 8).t());
            var v = torch.matmul(x[0], wv.weight!.narrow(0, g * 8, 8).t());
            var s = torch.matmul(q, k.t()) / Math.Sqrt(8);
            heads.Add(torch.matmul(s.masked_fill(causal.logical_not(), double.NegativeInfinity).softmax(-1), v));
        }
        var expected = torch.matmul(torch.cat(heads, 1), wo.weight!.t()).unsqueeze(0);
        T.Close(expected, actual, 1e-5, "GQA layer");
    }

    [Fact]
    public void Gqa_conversion_with_as_many_groups_as_heads_is_the_model_itself_and_mean_pools_otherwise()
    {
        using var mha = Model("mha");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = torch.randint(0, 37, [2, 9], ScalarType.Int64, generator: new Generator(8)).to(T.Dev);
        using var same = GqaConversion.ToGqa(mha, 4);
        T.Close(mha.Forward(tokens), same.Forward(tokens), 1e-6, "GQA with Hkv = Hq");
        using var mqa = GqaConversion.ToGqa(mha, 1);
        using var gqa = GqaConversion.ToGqa(mha, 2);
        Assert.Equal("mqa", mqa.Config.LayoutName);
        var wk = ((LlamaAttention)mha.Layers[1].Attention).Projections.K.weight!;           // (4·8, 32)
        var pooled = ((LlamaAttention)gqa.Layers[1].Attention).Projections.K.weight!;      // (2·8, 32)
        T.Close((wk.narrow(0, 16, 8) + wk.narrow(0, 24, 8)) / 2, pooled.narrow(0, 8, 8), 1e-6, "group 1 = mean of heads 2 and 3");
        T.Close(wk.view(4, 8, 32).mean([0]), ((LlamaAttention)mqa.Layers[1].Attention).Projections.K.weight!, 1e-6, "MQA = mean of all heads");
        T.Close(((LlamaAttention)mha.Layers[0].Attention).Projections.Q.weight!, ((LlamaAttention)gqa.Layers[0].Attention).Projections.Q.weight!, 0, "queries kept");
        var bias = torch.arange(8, ScalarType.Float32, T.Dev);
        Assert.Equal([1f, 2f, 5f, 6f], T.Floats(GqaConversion.MeanPoolHeads(bias, 4, 2)));
    }

    [Theory]
    [InlineData("mha")]
    [InlineData("gqa")]
    [InlineData("mqa")]
    public void TransMla_with_a_full_rank_latent_reproduces_the_model_with_and_without_a_cache(string name)
    {
        using var source = Model(name);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = torch.randint(0, 37, [2, 10], ScalarType.Int64, generator: new Generator(4)).to(T.Dev);
        var expected = source.Forward(tokens);
        using var mla = TransMla.ToMla(source);
        T.Close(expected, mla.Forward(tokens), 1e-5, "MLA from " + name);
        Assert.Equal(source.KvBytesPerToken(4), mla.KvBytesPerToken(4));                     // the same cache: 2·Hkv·D per token
        using var cache = mla.NewCache();
        var cached = torch.cat([mla.Forward(tokens.narrow(1, 0, 6), cache), mla.Forward(tokens.narrow(1, 6, 1), cache), mla.Forward(tokens.narrow(1, 7, 3), cache)], 1);
        T.Close(expected, cached, 1e-5, "cached MLA from " + name);
        if (name != "gqa") return;
        // a smaller latent is the best rank-r approximation of the joint key/value map: the error shrinks as r grows
        double Error(int r)
        {
            using var small = TransMla.ToMla(source, r);
            return T.RelRms(small.Forward(tokens), expected);
        }
        int full = 2 * source.Config.KvHeadCount * 8;                                      // 32 = d: the full latent is exact
        double e1 = Error(full / 4), e2 = Error(full / 2), e3 = Error(full - 1);
        Assert.True(e1 > e2 && e2 > e3 && e3 > 0, $"errors {e1:E2} > {e2:E2} > {e3:E2} > 0");
    }

    [Fact]
    public void Absorbed_mla_equals_the_up_projected_form()
    {
        using var model = Model("mla");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = torch.randint(0, 37, [2, 9], ScalarType.Int64, generator: new Generator(6)).to(T.Dev);
        var expected = model.Forward(tokens);
        foreach (var l in model.Layers) ((MultiHeadLatentAttention)l.Attention).Absorbed = true;
        T.Close(expected, model.Forward(tokens), 1e-5, "absorbed");
    }

    [Fact]
    public void Absorbed_mla_has_the_gradients_of_the_up_projected_form()
    {
        using var model = Model("mla");
        using var scope = torch.NewDisposeScope();
        var tokens = torch.randint(0, 37, [2, 7], ScalarType.Int64, generator: new Generator(9)).to(T.Dev);
        var weights = model.parameters().ToArray();
        Tensor[] Grads(bool absorbed)
        {
            foreach (var l in model.Layers) ((MultiHeadLatentAttention)l.Attention).Absorbed = absorbed;
            model.zero_grad();
            model.Forward(tokens).pow(2).mean().backward();
            return weights.Select(w => w.grad!.clone()).ToArray();
        }
        var expanded = Grads(false);
        var absorbed = Grads(true);
        for (int i = 0; i < weights.Length; i++) T.Close(expanded[i], absorbed[i], 1e-4, $"gradient {i}");
        model.zero_grad();
    }

    [Fact]
    public void Compressed_convolutional_attention_keeps_its_window_in_the_cache_state_and_a_reset_starts_over()
    {
        using var model = Model("ccgqa");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = torch.randint(0, 37, [2, 9], ScalarType.Int64, generator: new Generator(10)).to(T.Dev);
        using var cache = model.NewCache();
        model.Forward(tokens.narrow(1, 0, 4), cache);
        var layer = (CompressedConvolutionalAttention)model.Layers[0].Attention;
        Assert.Equal(["cca.qk", "cca.seen", "cca.v2"], cache[0].State.Names.Order().ToArray());
        Assert.Equal(2 * layer.StateBytesPerSequence(4) + 8, cache[0].State.Bytes);        // batch 2 (and the token count); the window does not grow with the tokens
        model.Forward(tokens.narrow(1, 4, 3), cache);
        Assert.Equal(2 * layer.StateBytesPerSequence(4) + 8, cache[0].State.Bytes);
        cache.Crop(5);                                                                      // the window cannot follow a crop: refused, not silently wrong
        Assert.Contains("cropped", Assert.Throws<ArgumentException>(() => model.Forward(tokens.narrow(1, 5, 1), cache)).Message);
        cache.Reset();
        Assert.Equal(0, cache[0].State.Bytes);
        var parts = new[] { model.Forward(tokens.narrow(1, 0, 5), cache), model.Forward(tokens.narrow(1, 5, 4), cache) };
        T.Close(model.Forward(tokens), torch.cat(parts, 1), 1e-5, "after a reset");
    }

    [Fact]
    public void Mla_matches_its_definition_with_a_shared_rotary_key()
    {
        using var model = Model("mla-q");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var layer = (MultiHeadLatentAttention)model.Layers[0].Attention;
        var (kvDown, kvUp, o, _, qDown, qUp) = layer.Projections;
        var x = T.Randn(1, 6, 32);
        var pos = torch.arange(6, ScalarType.Int64, T.Dev);
        var step = new AttentionStep { Layer = 0, Positions = pos, Rope = model.Rope, Shared = new Dictionary<string, object>() };
        var actual = layer.Forward(x, step);
        // DeepSeek-V2 eqs. 9–19 head by head: D = 8, d_r = 2, d_c = 10, Dv = 6
        var c = torch.matmul(x[0], kvDown.weight!.narrow(0, 0, 10).t());                   // (N, d_c)
        var kr = model.Rope!.Apply(torch.matmul(x[0], kvDown.weight!.narrow(0, 10, 2).t()).view(1, 1, 6, 2), pos)[0, 0]; // (N, 2)
        var qAll = torch.matmul(torch.matmul(x[0], qDown!.weight!.t()), qUp!.weight!.t());  // (N, H·D)
        var causal = torch.ones(6, 6, ScalarType.Bool, T.Dev).tril();
        var heads = new List<Tensor>();
        for (int h = 0; h < 4; h++)
        {
            var qh = qAll.narrow(1, h * 8, 8);
            var qr = model.Rope.Apply(qh.narrow(1, 0, 2).contiguous().view(1, 1, 6, 2), pos)[0, 0];
            var up = kvUp.weight!.narrow(0, h * 12, 12);                                    // rows of head h: [k_C (6) | v (6)]
            var kc = torch.matmul(c, up.narrow(0, 0, 6).t());
            var v = torch.matmul(c, up.narrow(0, 6, 6).t());
            var s = (torch.matmul(qr, kr.t()) + torch.matmul(qh.narrow(1, 2, 6), kc.t())) / Math.Sqrt(8);
            heads.Add(torch.matmul(s.masked_fill(causal.logical_not(), double.NegativeInfinity).softmax(-1), v));
        }
        T.Close(torch.matmul(torch.cat(heads, 1), o.weight!.t()).unsqueeze(0), actual, 1e-5, "MLA layer");
        Assert.Equal(12L * 4, layer.KvBytesPerToken(4));                                     // (d_c + d_r) fp32 values per token
    }

    [Fact]
    public void Tensor_product_attention_matches_its_definition_token_by_token()
    {
        using var model = Model("tpa");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var layer = (TensorProductAttention)model.Layers[0].Attention;
        var p = layer.named_parameters().ToDictionary(n => n.name, n => n.parameter);
        var x = T.Randn(1, 5, 32);
        var step = new AttentionStep { Layer = 0, Positions = torch.arange(5, ScalarType.Int64, T.Dev), Shared = new Dictionary<string, object>() };
        var actual = layer.Forward(x, step);
        // Q_t = (1/R)·Σ_r a_r(x_t) ⊗ b_r(x_t), built as explicit outer products per token and rank
        Tensor Build(string m, int rank, int t)
        {
            var a = torch.matmul(p[$"W_A_{m}.weight"], x[0, t]).view(rank, 4);            // (R, H)
            var b = torch.matmul(p[$"W_B_{m}.weight"], x[0, t]).view(rank, 8);            // (R, D)
            var sum = torch.zeros(4, 8, device: T.Dev);
            for (int r = 0; r < rank; r++) sum = sum + torch.outer(a[r], b[r]);
            return sum / rank;                                                              // (H, D)
        }
        var q = torch.stack(Enumerable.Range(0, 5).Select(t => Build("q", 6, t)), 1);    // (H, N, D)
        var k = torch.stack(Enumerable.Range(0, 5).Select(t => Build("k", 2, t)), 1);
        var v = torch.stack(Enumerable.Range(0, 5).Select(t => Build("v", 2, t)), 1);
        var s = torch.matmul(q, k.transpose(1, 2)) / Math.Sqrt(8);
        var causal = torch.ones(5, 5, ScalarType.Bool, T.Dev).tril();
        var heads = torch.matmul(s.masked_fill(causal.logical_not(), double.NegativeInfinity).softmax(-1), v); // (H, N, D)
        var expected = torch.matmul(heads.transpose(0, 1).reshape(5, 32), p["o_proj.weight"].t()).unsqueeze(0);
        T.Close(expected, actual, 1e-5, "TPA layer");
        Assert.Equal((2L + 2) * (4 + 8) * 2, layer.KvBytesPerToken(2));                     // (R_K + R_V)(H + D) bf16 values
    }

    [Fact]
    public void Compressed_convolutional_attention_is_causal_and_shifts_half_the_values_by_one_token()
    {
        using var model = Model("cca");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var layer = (CompressedConvolutionalAttention)model.Layers[0].Attention;
        var x = T.Randn(1, 8, 32);
        AttentionStep Step() => new() { Layer = 0, Positions = torch.arange(8, ScalarType.Int64, T.Dev), Shared = new Dictionary<string, object>(), RecordWeights = true };
        var y = layer.Forward(x, Step());
        var changed = x.clone();
        changed[0, 5] = changed[0, 5] + 1;
        var y2 = layer.Forward(changed, Step());
        T.Close(y.narrow(1, 0, 5), y2.narrow(1, 0, 5), 1e-6, "tokens before 5 do not see token 5");
        Assert.True(T.RelRms(y2.narrow(1, 5, 1), y.narrow(1, 5, 1)) > 1e-3);
        // attention runs in the latent: Hq·D = 16 of 32 channels (C = 2); q and k have norm √D, so |score| ≤ D·exp(β)/√D
        Assert.Equal(2L * 4 * 4 * 4, layer.KvBytesPerToken(4));
        var (hq, hkv, d) = layer.Heads;
        Assert.Equal((4, 4, 4), (hq, hkv, d));
        var cost = KvLayoutAccounting.Cost(layer, 32);
        Assert.Equal(4.0 * 4 * 4, cost.PrefillFlopsPerKey);                                   // scores and values in a 16-wide latent
    }

    [Fact]
    public void Sparse_query_attention_with_every_query_head_is_gqa_and_cuts_score_flops_by_the_head_ratio()
    {
        torch.manual_seed(2);
        using var gqa = new TinyLm(Base with { KvHeads = 2 }, T.Dev);
        using var sqaFull = new TinyLm(Base with { Attention = (c, _) => new SparseQueryAttention(c, 4, 2) }, T.Dev);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var source = gqa.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (n, p) in sqaFull.named_parameters()) p.copy_(source[n]);
        var tokens = torch.randint(0, 37, [1, 7], ScalarType.Int64, generator: new Generator(1)).to(T.Dev);
        T.Close(gqa.Forward(tokens), sqaFull.Forward(tokens), 1e-6, "SQA with Hq = H");
        var mha = KvLayoutAccounting.Cost(new LlamaAttention(Base, T.Dev), 32);
        var xsqa = KvLayoutAccounting.Cost(new SparseQueryAttention(Base, 1, 1, T.Dev), 32);
        Assert.Equal(4.0, mha.PrefillFlopsPerKey / xsqa.PrefillFlopsPerKey);
        Assert.Equal(2.0 * 32 * (4 + 8) * 8 + 2.0 * 32 * 32, mha.FixedFlops);                // q, k, v and o projections: 8192
        Assert.Equal(4.0 * 4 * 8, mha.DecodeFlopsPerKey);
        // Kinetics: eFLOPs = FLOPs + I·bytes; at context 99 a token reads 100 tokens of 2·4·8 fp16 values
        Assert.Equal(100.0 * 64 * 2, mha.DecodeKvBytesRead(99));
        Assert.Equal(mha.DecodeFlopsPerToken(99) + 10 * 12800.0, mha.DecodeEquivalentFlopsPerToken(99, 2, 10));
        Assert.Throws<ArgumentException>(() => mha.DecodeEquivalentFlopsPerToken(99, 2, 0));
    }

    [Fact]
    public void Cross_layer_attention_caches_only_in_producer_layers_and_consumers_read_them()
    {
        using var model = Model("cla");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = torch.randint(0, 37, [1, 6], ScalarType.Int64, generator: new Generator(2)).to(T.Dev);
        using var cache = model.NewCache();
        model.Forward(tokens, cache);
        Assert.Equal([2L * 8 * 4 * 6, 0, 2L * 8 * 4 * 6], cache.Layers.Select(l => l.StorageBytes).ToArray());
        Assert.Equal([6L, 6, 6], cache.Layers.Select(l => l.Seen).ToArray());              // the consumer counts the tokens it read
        cache.Crop(4);                                                                      // so a crop (speculative decoding) works
        var full = model.Forward(tokens);
        var again = torch.cat([model.Forward(tokens.narrow(1, 4, 2), cache)], 1);
        T.Close(full.narrow(1, 4, 2), again, 1e-5, "after a crop");
        var consumer = (CrossLayerAttention)model.Layers[1].Attention;
        Assert.False(consumer.IsProducer);
        Assert.Equal(["o_proj.weight", "q_proj.weight"], consumer.named_parameters().Select(p => p.name).Order().ToArray());
        // the consumer attends with its own queries over the producer's keys: softmax(q₁(x₁)·k₀(x₀)ᵀ/√D)
        var producer = (CrossLayerAttention)model.Layers[0].Attention;
        var (x0, x1) = (T.Randn(1, 5, 32), T.Randn(1, 5, 32));
        var shared = new Dictionary<string, object>();
        var pos = torch.arange(5, ScalarType.Int64, T.Dev);
        producer.Forward(x0, new AttentionStep { Layer = 0, Positions = pos, Shared = shared });
        var step1 = new AttentionStep { Layer = 1, Positions = pos, Shared = shared, RecordWeights = true };
        consumer.Forward(x1, step1);
        var wq = consumer.named_parameters().First(p => p.name == "q_proj.weight").parameter;
        var wk = producer.named_parameters().First(p => p.name == "k_proj.weight").parameter;
        var q = torch.matmul(x1[0], wq.t()).view(5, 4, 8).transpose(0, 1);                  // (H, N, D)
        var k = torch.matmul(x0[0], wk.t());                                                // (N, D): one key head (MQA)
        var s = torch.matmul(q, k.t()) / Math.Sqrt(8);
        var causal = torch.ones(5, 5, ScalarType.Bool, T.Dev).tril();
        T.Close(s.masked_fill(causal.logical_not(), double.NegativeInfinity).softmax(-1).unsqueeze(0), step1.Weights!, 1e-5, "consumer weights");
        foreach (var d in shared.Values.OfType<IDisposable>()) d.Dispose();
        Assert.Throws<ArgumentException>(() => consumer.Forward(x1, new AttentionStep { Layer = 1, Positions = pos, Shared = new Dictionary<string, object>() }));
    }
}
