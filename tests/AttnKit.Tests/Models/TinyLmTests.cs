using AttnKit.Attention.Masks;
using AttnKit.Cache;
using AttnKit.Core;
using AttnKit.Models;
using AttnKit.Positional;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Models;

[Collection("global RNG")]
public class TinyLmTests
{
    internal static TinyLm Model(int? kvHeads = 2, bool tie = true, int layers = 2, long seed = 1)
    {
        torch.manual_seed(seed);
        return new TinyLm(new TinyLmConfig { VocabSize = 37, ModelDim = 32, Layers = layers, Heads = 4, KvHeads = kvHeads, TieEmbeddings = tie }, T.Dev);
    }

    internal static Tensor Tokens(long seed, long batch, long n) => torch.randint(0, 37, new long[] { batch, n }, ScalarType.Int64, generator: new Generator((ulong)seed)).to(T.Dev);

    [Theory]
    [InlineData(4, true)]
    [InlineData(2, false)]
    [InlineData(1, true)]
    public void Cached_prefill_then_decode_equals_recomputation(int kvHeads, bool tie)
    {
        using var model = Model(kvHeads, tie);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = Tokens(3, 2, 12);
        var full = model.Forward(tokens);                                                  // (B, N, V)
        using var cache = model.NewCache();
        var chunks = new List<Tensor> { model.Forward(tokens.narrow(1, 0, 5), cache) };
        for (int i = 5; i < 9; i++) chunks.Add(model.Forward(tokens.narrow(1, i, 1), cache));
        chunks.Add(model.Forward(tokens.narrow(1, 9, 3), cache));                          // a chunk after decoding steps
        T.Close(full, torch.cat(chunks, 1), 1e-5, "cached logits");
        Assert.Equal(12, cache.Seen);
        Assert.Equal(2L * 2 * 2 * kvHeads * 8 * 4 * 12, cache.StorageBytes);              // layers · K and V · B · Hkv · D · fp32 · tokens
        Assert.Equal(2L * 2 * kvHeads * 8 * 4, model.KvBytesPerToken(4));
    }

    [Fact]
    public void Greedy_generation_with_a_cache_equals_recomputation_token_for_token()
    {
        using var model = Model();
        using var scope = torch.NewDisposeScope();
        var prompt = Tokens(5, 3, 7);
        using var cached = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 10 });
        using var recomputed = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 10, NoCache = true });
        Assert.Equal(recomputed.Tokens.data<long>().ToArray(), cached.Tokens.data<long>().ToArray());
        Assert.Equal([3L, 17], cached.Tokens.shape);
        Assert.Equal(prompt.data<long>().ToArray(), cached.Tokens.narrow(1, 0, 7).contiguous().data<long>().ToArray());
    }

    [Fact]
    public void Sampling_is_repeatable_for_a_seed_and_top_k_of_one_is_greedy()
    {
        using var model = Model();
        using var scope = torch.NewDisposeScope();
        var prompt = Tokens(7, 2, 5);
        using var a = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 8, Temperature = 1.5, TopP = 0.9, Seed = 4 });
        using var b = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 8, Temperature = 1.5, TopP = 0.9, Seed = 4 });
        Assert.Equal(a.Tokens.data<long>().ToArray(), b.Tokens.data<long>().ToArray());
        using var greedy = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 8 });
        using var top1 = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 8, Temperature = 2, TopK = 1, Seed = 9 });
        using var nucleus = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 8, Temperature = 2, TopP = 1e-6, Seed = 9 });
        Assert.Equal(greedy.Tokens.data<long>().ToArray(), top1.Tokens.data<long>().ToArray());
        Assert.Equal(greedy.Tokens.data<long>().ToArray(), nucleus.Tokens.data<long>().ToArray());
    }

    [Fact]
    public void Top_k_and_top_p_sample_only_inside_their_sets()
    {
        using var scope = torch.NewDisposeScope();
        // probabilities 0.5, 0.3, 0.15, 0.05: top-p 0.7 keeps the first two (0.5 < 0.7 ≤ 0.8); top-k 3 keeps three
        var logits = torch.tensor(new[] { 0.5f, 0.3f, 0.15f, 0.05f }, device: T.Dev).log().unsqueeze(0).expand(4000, 4);
        var p = Generation.Pick(logits, new GenerationOptions { Temperature = 1, TopP = 0.7 }, new Generator(1)).cpu().data<long>().ToArray();
        var k = Generation.Pick(logits, new GenerationOptions { Temperature = 1, TopK = 3 }, new Generator(1)).cpu().data<long>().ToArray();
        Assert.Equal([0L, 1], p.Distinct().Order());
        Assert.InRange(p.Count(x => x == 0) / 4000.0, 0.5 / 0.8 - 0.04, 0.5 / 0.8 + 0.04);
        Assert.Equal([0L, 1, 2], k.Distinct().Order());
    }

    [Fact]
    public void Stop_tokens_end_a_row_which_then_repeats_the_stop_token()
    {
        using var model = Model();
        using var scope = torch.NewDisposeScope();
        var prompt = Tokens(11, 1, 6);
        using var free = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 12 });
        long stop = free.Tokens[0, 8].item<long>();                                        // the third generated token
        int firstAt = Array.IndexOf(free.Tokens[0].data<long>().ToArray()[6..], stop);
        using var stopped = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 12, StopTokens = [stop] });
        Assert.Equal(firstAt + 1, stopped.Generated[0]);
        Assert.Equal(6 + firstAt + 1, stopped.Tokens.shape[1]);                            // every row done: stops early
    }

    [Fact]
    public void Recorded_weights_are_rows_of_a_causal_softmax()
    {
        using var model = Model();
        using var scope = torch.NewDisposeScope();
        using var result = model.Run(Tokens(2, 2, 6), null, new ForwardOptions { RecordWeights = true });
        Assert.Equal(2, result.Weights.Count);
        var w = result.Weights[1];
        Assert.Equal([2L, 4, 6, 6], w.shape);
        T.Close(torch.ones(2, 4, 6, device: T.Dev), w.sum(-1), 1e-6, "rows sum to 1");
        Assert.Equal(0.0, w.triu(1).abs().sum().item<float>());
        using var gen = Generation.Generate(model, Tokens(2, 2, 6), new GenerationOptions { MaxNewTokens = 3, RecordWeights = true });
        Assert.Equal(2, gen.StepWeights.Count);
        Assert.Equal([2L, 4, 1, 7], gen.StepWeights[0][0].shape);
    }

    [Fact]
    public void A_prefix_lm_mask_lets_prefix_tokens_see_each_other()
    {
        using var model = Model();
        using var scope = torch.NewDisposeScope();
        var tokens = Tokens(4, 1, 8);
        var causal = model.Forward(tokens);
        using var prefix = model.Run(tokens, null, new ForwardOptions { Mask = Masks.PrefixLM(4) });
        // position 0 sees later prefix tokens under prefix-LM, so its logits change; after the prefix the output still differs (it reads changed states)
        Assert.True(T.RelRms(prefix.Output.narrow(1, 0, 1), causal.narrow(1, 0, 1)) > 1e-3);
        var changed = tokens.clone(); changed[0, 6] = (changed[0, 6] + 1) % 37;
        using var prefix2 = model.Run(changed, null, new ForwardOptions { Mask = Masks.PrefixLM(4) });
        T.Close(prefix.Output.narrow(1, 0, 6), prefix2.Output.narrow(1, 0, 6), 1e-6, "tokens before 6 do not see token 6");
    }

    [Fact]
    public void Parameter_names_follow_hugging_face_llama()
    {
        using var model = Model(tie: false, layers: 1);
        var names = model.named_parameters().Select(p => p.name).Order().ToArray();
        Assert.Equal(new[]
        {
            "lm_head.weight", "model.embed_tokens.weight",
            "model.layers.0.input_layernorm.weight", "model.layers.0.mlp.down_proj.weight", "model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight",
            "model.layers.0.post_attention_layernorm.weight",
            "model.layers.0.self_attn.k_proj.weight", "model.layers.0.self_attn.o_proj.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.weight",
            "model.norm.weight",
        }.Order().ToArray(), names);
    }

    [Fact]
    public void Forward_and_generation_leave_no_tensors_behind()
    {
        using var model = Model();
        using var tokens = Tokens(1, 2, 6);
        model.Forward(tokens).Dispose();                                                   // builds the rotary tables, which the model keeps
        T.NoLeak(() => [model.Forward(tokens)]);
        T.NoLeak(() =>
        {
            using var cache = model.NewCache();
            var a = model.Forward(tokens, cache);
            return [a];
        });
        foreach (var o in new[] { new GenerationOptions { MaxNewTokens = 4 }, new GenerationOptions { MaxNewTokens = 4, RecordWeights = true }, new GenerationOptions { MaxNewTokens = 4, StopTokens = [3] }, new GenerationOptions { MaxNewTokens = 4, Temperature = 1, TopK = 5, TopP = 0.9 } })
            T.NoLeak(() => { var r = Generation.Generate(model, tokens, o); return [r.Tokens, .. r.StepWeights.SelectMany(s => s)]; });
        T.NoLeak(() =>
        {
            var r = Generation.Generate(model, tokens, new GenerationOptions { MaxNewTokens = 4, RecordWeights = true, Temperature = 1, TopK = 5, TopP = 0.9, StopTokens = [3] });
            return [r.Tokens, .. r.StepWeights.SelectMany(s => s)];
        });
    }

    [Fact]
    public void Bad_configurations_and_calls_throw_argument_exceptions()
    {
        Assert.Contains("KvHeads", Assert.Throws<ArgumentException>(() => new TinyLm(new TinyLmConfig { VocabSize = 10, ModelDim = 32, Heads = 4, KvHeads = 3 })).Message);
        Assert.Contains("ModelDim", Assert.Throws<ArgumentException>(() => new TinyLm(new TinyLmConfig { VocabSize = 10, ModelDim = 30, Heads = 4 })).Message);
        Assert.Contains("VocabSize", Assert.Throws<ArgumentException>(() => new TinyLm(new TinyLmConfig { VocabSize = 0 })).Message);
        Assert.Contains("RotaryDim", Assert.Throws<ArgumentException>(() => new TinyLm(new TinyLmConfig { VocabSize = 10, RotaryDim = 3 })).Message);
        using var model = Model();
        using var scope = torch.NewDisposeScope();
        Assert.Contains("[0, 37)", Assert.Throws<ArgumentException>(() => model.Forward(torch.tensor(new long[,] { { 1, 37 } }, device: T.Dev))).Message);
        Assert.Contains("integer", Assert.Throws<ArgumentException>(() => model.Forward(torch.zeros(1, 3, device: T.Dev))).Message);
        Assert.Contains("(B, N)", Assert.Throws<ArgumentException>(() => model.Forward(torch.zeros(3, ScalarType.Int64, T.Dev))).Message);
        using var wrong = ModelCache.Dynamic(3);
        Assert.Contains("3", Assert.Throws<ArgumentException>(() => model.Forward(Tokens(1, 1, 2), wrong)).Message);
        Assert.Contains("TopP", Assert.Throws<ArgumentException>(() => Generation.Generate(model, Tokens(1, 1, 2), new GenerationOptions { Temperature = 1, TopP = 1.5 })).Message);
        Assert.Contains("Temperature", Assert.Throws<ArgumentException>(() => Generation.Generate(model, Tokens(1, 1, 2), new GenerationOptions { Temperature = -1 })).Message);
        using var cache = model.NewCache();
        model.Forward(Tokens(1, 2, 3), cache);
        Assert.Contains("batch", Assert.Throws<ArgumentException>(() => model.Forward(Tokens(1, 3, 1), cache)).Message);
    }
}

public class RotaryEmbeddingTests
{
    [Fact]
    public void Two_channels_rotate_by_position_times_theta()
    {
        using var scope = torch.NewDisposeScope();
        var rope = new RotaryEmbedding(2, 10000);
        var x = torch.tensor(new[] { 1f, 0f }, device: T.Dev).view(1, 1, 1, 2).expand(1, 1, 3, 2);
        var y = rope.Apply(x, torch.arange(3, ScalarType.Int64, T.Dev));
        // θ_0 = 1: position m turns (1, 0) into (cos m, sin m)
        Assert.Equal(new[] { 1f, 0f, MathF.Cos(1), MathF.Sin(1), MathF.Cos(2), MathF.Sin(2) }, T.Floats(y), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void Scores_depend_only_on_the_distance_between_positions()
    {
        using var scope = torch.NewDisposeScope();
        var rope = new RotaryEmbedding(8, 100);
        var q = T.Randn(1, 1, 1, 8);
        var k = T.Randn(1, 1, 1, 8);
        double Score(long m, long n) => (rope.Apply(q, torch.tensor(new[] { m }, device: T.Dev)) * rope.Apply(k, torch.tensor(new[] { n }, device: T.Dev))).sum().item<float>();
        Assert.Equal(Score(3, 1), Score(10, 8), 4);
        Assert.Equal(Score(0, 5), Score(7, 12), 4);
        Assert.NotEqual(Score(3, 1), Score(3, 2), 3);
    }

    [Fact]
    public void Llama3_scaling_keeps_short_wavelengths_divides_long_ones_and_blends_between()
    {
        using var scope = torch.NewDisposeScope();
        // original context 64, low 1, high 4: λ < 16 kept, λ > 64 divided by 8, between blended
        var scaling = new Llama3RopeScaling(8, 1, 4, 64);
        var theta = torch.tensor(new[] { 2 * Math.PI / 8, 2 * Math.PI / 32, 2 * Math.PI / 128 }, ScalarType.Float64);
        var scaled = scaling.Apply(theta).data<double>().ToArray();
        double t = (64.0 / 32 - 1) / (4 - 1);                                               // = 1/3
        Assert.Equal(2 * Math.PI / 8, scaled[0], 12);
        Assert.Equal((1 - t) * (2 * Math.PI / 32) / 8 + t * (2 * Math.PI / 32), scaled[1], 12);
        Assert.Equal(2 * Math.PI / 128 / 8, scaled[2], 12);
        Assert.Equal(2 * Math.PI / 128 / 8, new LinearRopeScaling(8).Apply(theta).data<double>()[2], 12);
        Assert.Throws<ArgumentException>(() => new RotaryEmbedding(8, 10000, new Llama3RopeScaling(8, 4, 1, 64)));
        Assert.Throws<ArgumentException>(() => new RotaryEmbedding(8, 10000, new LinearRopeScaling(0.5)));
    }

    [Fact]
    public void Rotation_from_the_table_equals_rotation_at_explicit_positions()
    {
        using var scope = torch.NewDisposeScope();
        var rope = new RotaryEmbedding(6, 500, new LinearRopeScaling(2));
        var x = T.Randn(2, 3, 5, 8);
        foreach (long start in new long[] { 0, 7, 300, 1000 })                            // 300 and 1000 grow the table
            Assert.True(rope.ApplyFrom(x, start).equal(rope.Apply(x, torch.arange(start, start + 5, ScalarType.Int64, T.Dev))).all().item<bool>(), $"start {start}");
        Assert.Throws<ArgumentException>(() => rope.ApplyFrom(x, -1));
    }

    [Fact]
    public void Partial_rotary_leaves_the_other_channels_and_per_row_positions_match_shared_ones()
    {
        using var scope = torch.NewDisposeScope();
        var rope = new RotaryEmbedding(4);
        var x = T.Randn(2, 3, 5, 6);
        var pos = torch.arange(5, ScalarType.Int64, T.Dev);
        var y = rope.Apply(x, pos);
        T.Close(x.narrow(3, 4, 2), y.narrow(3, 4, 2), 0, "unrotated channels");
        T.Close(y, rope.Apply(x, pos.view(1, 1, 5).expand(2, 3, 5)), 1e-7, "per-row positions");
        Assert.Throws<ArgumentException>(() => rope.Apply(x, torch.arange(4, ScalarType.Int64, T.Dev)));
        Assert.Throws<ArgumentException>(() => new RotaryEmbedding(3));
    }
}
