using AttnKit.Attention;
using AttnKit.Attention.Masks;
using AttnKit.Cache;
using AttnKit.Cache.Policies;
using AttnKit.Models;
using AttnKit.Tests.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Cache;

[Collection("global RNG")]
public class PolicyTests
{
    internal static IEnumerable<(string Name, Func<int, TokenScorer> Make)> Scorers(TinyLm model) =>
    [
        ("streaming", _ => new StreamingLlm()), ("h2o", _ => new HeavyHitterOracle()), ("a2sf", _ => new A2sf(0.8)),
        ("snapkv", _ => new SnapKv(4, 3)), ("l2", _ => new KeyNorm()), ("expected", _ => new ExpectedAttention(model.Rope, 8, 8)),
        ("caote", _ => new Caote()), ("caote-h2o", _ => new Caote(new HeavyHitterOracle())), ("shotkv", _ => new ShotKv([0, 4, 8])),
        ("lazy", _ => new LazyEviction()), ("raas", _ => new Raas()),
        ("nats-all-global", _ => new NeuralAttentionSearch(2, 8, 2, bias: torch.tensor(new float[] { 100, 0, 0, 100, 0, 0 }).view(2, 3))),
    ];

    [Fact]
    public void Every_policy_at_a_budget_of_at_least_the_length_equals_the_full_cache_exactly()
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = TinyLmTests.Tokens(3, 2, 15);
        using var full = model.NewCache();
        var expected = StorageFormTests.Decode(model, tokens, full);
        foreach (var (name, make) in Scorers(model))
        {
            using var cache = model.NewCache(PolicyCache.Factory(make, new CacheBudget { Tokens = 15, Sinks = 1, Window = 2 }));
            var got = StorageFormTests.Decode(model, tokens, cache);
            Assert.Equal(0.0, T.RelRms(got, expected));
            if (!((PolicyCache)cache[0]).Scorer.Expires) Assert.Equal(0, ((PolicyCache)cache[0]).Compressions);
        }
        var prompt = tokens.narrow(1, 0, 6);
        using var reference = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 8 });
        using var h2o = Generation.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 8, Cache = PolicyCache.Factory(_ => new HeavyHitterOracle(), new CacheBudget { Tokens = 14 }) });
        Assert.Equal(reference.Tokens.data<long>().ToArray(), h2o.Tokens.data<long>().ToArray());
    }

    [Fact]
    public void The_kept_tokens_are_the_sinks_the_window_and_the_top_scored_rest()
    {
        using var scope = torch.NewDisposeScope();
        // one row, two heads, 8 tokens; sinks 1, window 2, budget 5: 2 more by score
        var scores = torch.tensor(new float[] { 0, 9, 1, 7, 8, 2, 0, 0, /* head 2 */ 5, 1, 6, 0, 2, 7, 3, 3 }, device: T.Dev).view(1, 2, 8);
        var pos = torch.arange(8L, device: T.Dev).view(1, 1, 8).expand(1, 2, 8);
        var keep = KeepSet.Mask(scores, pos, null, 8, [5], sinks: 1, window: 2);
        Assert.Equal(T.Pattern("11..1.11", "1.1..111"), T.Bools(keep));
        var perHead = KeepSet.Mask(scores, pos, null, 8, [3, 6], sinks: 1, window: 2);   // head budgets 3 and 6
        Assert.Equal(T.Pattern("1.....11", "1.1.1111"), T.Bools(perHead));
        var (index, valid) = KeepSet.Compact(perHead);
        Assert.Equal([1L, 2, 6], index.shape);
        Assert.Equal(new long[] { 0, 6, 7 }, index[0, 0].narrow(0, 0, 3).cpu().data<long>().ToArray());
        Assert.Equal(T.Pattern("111...", "111111"), T.Bools(valid!));
        var expired = torch.zeros(1, 2, 8, ScalarType.Bool, T.Dev); expired[0, 1, 2] = true; expired[0, 1, 0] = true;   // a sink cannot expire
        Assert.Equal(T.Pattern("11..1.11", "1...1111"), T.Bools(KeepSet.Mask(scores, pos, null, 8, [5], 1, 2, expired)));
        Assert.Throws<ArgumentException>(() => KeepSet.Mask(scores, pos, null, 8, [1, 2, 3]));
        Assert.Throws<ArgumentException>(() => KeepSet.Mask(scores.view(2, 8), pos, null, 8, [1]));
    }

    [Fact]
    public void A_policy_cache_keeps_the_top_scored_keys_and_their_original_positions()
    {
        using var scope = torch.NewDisposeScope();
        using var cache = new PolicyCache(new KeyNorm(), new CacheBudget { Tokens = 6, Sinks = 1, Window = 2 });
        var k = T.Randn(2, 2, 10, 8);
        var view = cache.Update(new CacheUpdate(k, k, null, torch.arange(10L, device: T.Dev)));
        Assert.Equal(10, view.Keys.shape[2]);                                             // prefill reads every token
        Assert.Equal(6, cache.Length);
        var held = cache.HeldPositions()!;
        var norms = k.norm(-1, false, 2);                                                 // (B, H, 10)
        for (int b = 0; b < 2; b++)
            for (int h = 0; h < 2; h++)
            {
                var n = norms[b, h].cpu().data<float>().ToArray();
                var middle = Enumerable.Range(1, 7).OrderBy(i => n[i]).Take(3);          // positions 1 … 7 compete for 3 slots
                var expected = new[] { 0, 8, 9 }.Concat(middle).Select(i => (long)i).Order().ToArray();
                Assert.Equal(expected, held[b, h].cpu().data<long>().ToArray());
            }
        Assert.Throws<ArgumentException>(() => new PolicyCache(new KeyNorm(), new CacheBudget { Tokens = 2, Sinks = 2, Window = 1 }));
    }

    [Fact]
    public void StreamingLLM_as_a_policy_equals_the_ring_buffer_and_recomputation_under_its_mask()
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = TinyLmTests.Tokens(8, 2, 14);
        // between steps the policy holds S + W = 5 tokens; the new query also reads itself: sinks 2 + a window of 4
        using var policy = model.NewCache(PolicyCache.Factory(_ => new StreamingLlm(), StreamingLlm.Budget(2, 3)));
        using var ring = model.NewCache(_ => new SlidingWindowCache(4, 2));
        var a = new List<Tensor> { model.Forward(tokens.narrow(1, 0, 4), policy) };
        var b = new List<Tensor> { model.Forward(tokens.narrow(1, 0, 4), ring) };
        for (int t = 4; t < 14; t++) { a.Add(model.Forward(tokens.narrow(1, t, 1), policy)); b.Add(model.Forward(tokens.narrow(1, t, 1), ring)); }
        using var full = model.Run(tokens, null, new ForwardOptions { Mask = Masks.SinksAndWindow(2, 4) });
        T.Close(full.Output, torch.cat(a, 1), 1e-5, "policy vs mask");
        T.Close(torch.cat(b, 1), torch.cat(a, 1), 1e-5, "policy vs ring");
    }

    [Fact]
    public void H2O_accumulates_the_attention_each_token_received_and_A2SF_at_lambda_one_is_H2O()
    {
        using var scope = torch.NewDisposeScope();
        var (q, k) = (T.Randn(1, 4, 6, 8), T.Randn(1, 2, 6, 8));
        var h2o = new PolicyCache(new HeavyHitterOracle(), new CacheBudget { Tokens = 4 });
        var a2sf1 = new PolicyCache(new A2sf(1.0), new CacheBudget { Tokens = 4 });
        var a2sf = new PolicyCache(new A2sf(0.5), new CacheBudget { Tokens = 4 });
        var pos = torch.arange(6L, device: T.Dev);
        foreach (var c in new[] { h2o, a2sf1, a2sf }) c.Update(new CacheUpdate(k, k, q, pos));
        // the reference: causal softmax weights, summed over queries, averaged over the two query heads of each KV head
        var w = ScaledDotProductAttention.Reference(q, k.repeat_interleave(2, 1), k.repeat_interleave(2, 1), new AttentionOptions { Mask = Masks.Causal, ReturnWeights = true }).Weights!;
        var acc = w.sum(2).view(1, 2, 2, 6).mean([2]);                                   // (1, 2, 6)
        var keep = acc.topk(4, -1).indexes.sort(-1).Values;
        Assert.Equal(keep.cpu().data<long>().ToArray(), h2o.HeldPositions()!.cpu().data<long>().ToArray());
        Assert.Equal(keep.cpu().data<long>().ToArray(), a2sf1.HeldPositions()!.cpu().data<long>().ToArray());
        Assert.Throws<ArgumentException>(() => new A2sf(0));
        h2o.Dispose(); a2sf1.Dispose(); a2sf.Dispose();
    }

    [Fact]
    public void CAOTE_scores_equal_the_output_change_when_each_token_is_removed()
    {
        using var scope = torch.NewDisposeScope();
        var (q, k, v) = (T.Randn(1, 2, 1, 8), T.Randn(1, 2, 7, 8), T.Randn(1, 2, 7, 4));
        var probe = new Probe(new Caote());
        using var cache = new PolicyCache(probe, new CacheBudget { Tokens = 7 });
        cache.Update(new CacheUpdate(k, v, null, torch.arange(7L, device: T.Dev)));
        var q7 = torch.tensor(new long[] { 7 }, device: T.Dev);
        var (k1, v1) = (T.Randn(1, 2, 1, 8), T.Randn(1, 2, 1, 4));
        cache.Update(new CacheUpdate(k1, v1, q, q7));
        var scores = probe.Last!;                                                         // (1, 2, 8)
        var kAll = torch.cat([k, k1], 2); var vAll = torch.cat([v, v1], 2);
        var o = ScaledDotProductAttention.Reference(q, kAll, vAll, new AttentionOptions()).Output; // (1, 2, 1, 4)
        for (int j = 0; j < 8; j++)
        {
            var rest = torch.cat([torch.arange(0L, j, device: T.Dev), torch.arange(j + 1L, 8L, device: T.Dev)]);
            var without = ScaledDotProductAttention.Reference(q, kAll.index_select(2, rest), vAll.index_select(2, rest), new AttentionOptions()).Output;
            var change = (o - without).norm(-1, false, 2).view(2);                        // per head
            T.Close(change, scores[0, TensorIndex.Colon, j], 1e-4, $"token {j}");
        }
    }

    [Fact]
    public void SnapKV_keeps_its_window_and_the_prefix_tokens_its_pooled_votes_choose_then_compresses_no_more()
    {
        using var scope = torch.NewDisposeScope();
        var (q, k, v) = (T.Randn(1, 2, 20, 8), T.Randn(1, 2, 20, 8), T.Randn(1, 2, 20, 8));
        using var cache = new PolicyCache(new SnapKv(4, 3), SnapKv.Budget(10));
        cache.Update(new CacheUpdate(k, v, q, torch.arange(20L, device: T.Dev)));
        var scores = torch.matmul(q, k.transpose(2, 3)) / Math.Sqrt(8);                           // SnapKV as its authors compute it
        scores = scores.masked_fill(torch.ones(20, 20, ScalarType.Bool, T.Dev).triu(1), double.NegativeInfinity);
        var votes = scores.softmax(-1).narrow(2, 16, 4).narrow(3, 0, 16).sum(2);                   // the window's 4 queries, the 16 prefix keys
        var pooled = torch.nn.functional.avg_pool1d(votes.reshape(2, 1, 16), 3, 1, 1).reshape(1, 2, 16);
        var held = cache.HeldPositions()!;
        for (int h = 0; h < 2; h++)
        {
            var top = pooled[0, h].topk(6).indexes.cpu().data<long>().OrderBy(x => x);
            Assert.Equal(top.Concat([16L, 17, 18, 19]), held[0, h].cpu().data<long>().ToArray());
        }
        for (long t = 20; t < 25; t++)                                                             // once, at prefill: generated tokens stay
            cache.Update(new CacheUpdate(T.Randn(1, 2, 1, 8), T.Randn(1, 2, 1, 8), T.Randn(1, 2, 1, 8), torch.tensor(new[] { t }, device: T.Dev)));
        Assert.Equal(15, cache.Length);
        using var tiny = new PolicyCache(new SnapKv(4, 3), new CacheBudget { Tokens = 5 });       // no recency window in the budget: the scorer keeps its own
        tiny.Update(new CacheUpdate(k, v, q, torch.arange(20L, device: T.Dev)));
        Assert.Equal([16L, 17, 18, 19], tiny.HeldPositions()![0, 0].cpu().data<long>().Skip(1).ToArray());
    }

    [Fact]
    public void SnapKV_with_pyramid_budgets_keeps_fewer_tokens_in_upper_layers_and_the_same_total()
    {
        var tokens = PyramidKv.Tokens(4, 20, beta: 4);
        Assert.Equal(new[] { 35, 25, 15, 5 }, tokens);
        Assert.Equal(80, tokens.Sum());
        using var model = TinyLmTests.Model(layers: 4);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var budgets = PyramidKv.Budgets(4, new CacheBudget { Tokens = 8, Window = 2 }, beta: 2);
        using var cache = model.NewCache(PolicyCache.Factory(_ => new SnapKv(4, 3), budgets));
        model.Forward(TinyLmTests.Tokens(1, 1, 20), cache);
        Assert.Equal(budgets.Select(b => (long)b.Tokens), cache.Layers.Select(l => l.Length));
        Assert.True(cache[0].Length > cache[3].Length);
        Assert.Throws<ArgumentException>(() => PyramidKv.Tokens(4, 20, 0.5));
    }

    [Fact]
    public void ShotKV_keeps_whole_shots_at_prefill_and_never_evicts_the_kept_prompt_while_decoding()
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var cache = model.NewCache(PolicyCache.Factory(_ => new ShotKv([0, 4, 8, 12], 2), ShotKv.Budget(prefillTokens: 8, decodeTokens: 3, window: 0)));
        var tokens = TinyLmTests.Tokens(2, 1, 24);
        model.Forward(tokens.narrow(1, 0, 16), cache);
        var layer = (PolicyCache)cache[1];
        var kept = layer.HeldPositions()!;
        var shots = kept[0, 0].cpu().data<long>().ToArray().Select(p => p / 4).ToArray();
        foreach (var g in shots.GroupBy(s => s)) Assert.Equal(4, g.Count());                // two whole shots of four
        for (int t = 16; t < 24; t++) model.Forward(tokens.narrow(1, t, 1), cache);
        var after = layer.HeldPositions()!;
        Assert.Equal(8 + 3, after.shape[2]);
        Assert.Equal(kept.cpu().data<long>().ToArray(), after.narrow(2, 0, 8).cpu().data<long>().ToArray()); // the prompt stayed
        Assert.True(after.narrow(2, 8, 3).ge(16).all().item<bool>());
    }

    [Fact]
    public void RaaS_protects_the_prompt_and_LazyEviction_evicts_only_every_observation_window()
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = TinyLmTests.Tokens(6, 1, 30);
        using var raas = model.NewCache(PolicyCache.Factory(_ => new Raas(), Raas.Budget(4)));
        using var lazy = model.NewCache(PolicyCache.Factory(_ => new LazyEviction(), LazyEviction.Budget(8, observationWindow: 5)));
        model.Forward(tokens.narrow(1, 0, 10), raas);
        model.Forward(tokens.narrow(1, 0, 10), lazy);
        var lengths = new List<long>();
        for (int t = 10; t < 30; t++)
        {
            model.Forward(tokens.narrow(1, t, 1), raas);
            model.Forward(tokens.narrow(1, t, 1), lazy);
            Assert.Equal(10 + Math.Min(4, t - 9), raas[0].Length);
            Assert.True(((PolicyCache)raas[0]).HeldPositions()!.narrow(2, 0, 10).eq(torch.arange(10L, device: T.Dev)).all().item<bool>());
            lengths.Add(lazy[0].Length);
        }
        Assert.Equal(8, lengths.Min());
        Assert.Equal(12, lengths.Max());                                                 // grows to budget + window − 1, then evicts in a burst
        Assert.True(lengths.Count(l => l == 8) >= 3);
    }

    [Fact]
    public void NAtS_decoding_with_deletions_equals_attention_under_its_learned_mask()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var nats = new NeuralAttentionSearch(2, 8, window: 3, bias: torch.tensor(new float[] { -0.5f, 0.5f, 0, -0.5f, 0, 0.5f }).view(2, 3));
        var (q, k, v) = (T.Randn(1, 2, 16, 8), T.Randn(1, 2, 16, 8), T.Randn(1, 2, 16, 8));
        var roles = nats.Roles(k);
        Assert.True(roles.unique().output.shape[0] == 3, "every role occurs");
        var mask = NeuralAttentionSearch.Mask(roles, 3);
        var expected = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { MaskTensor = mask }).Output;
        using var cache = new PolicyCache(nats, new CacheBudget { Tokens = 1000 });
        for (int t = 0; t < 16; t++)
        {
            var pos = torch.tensor(new long[] { t }, device: T.Dev);
            var view = cache.Update(new CacheUpdate(k.narrow(2, t, 1), v.narrow(2, t, 1), q.narrow(2, t, 1), pos));
            var allowed = view.KeyPositions!.le(t).unsqueeze(2);
            if (view.Valid is not null) allowed = allowed.logical_and(view.Valid.unsqueeze(2));
            var o = ScaledDotProductAttention.Reference(q.narrow(2, t, 1), view.Keys, view.Values, new AttentionOptions { MaskTensor = allowed }).Output;
            T.Close(expected.narrow(2, t, 1), o, 1e-5, $"step {t}");
        }
        Assert.True(cache.Length < 16);
        var soft = NeuralAttentionSearch.SoftMask(torch.nn.functional.one_hot(roles, 3).to(ScalarType.Float32), 3);
        Assert.Equal(T.Bools(mask), T.Bools(soft.gt(0.5)));
    }

    [Fact]
    public void Expected_attention_prefers_keys_aligned_with_the_mean_query()
    {
        using var scope = torch.NewDisposeScope();
        var mean = torch.zeros(8, device: T.Dev); mean[0] = 3;
        var q = (T.Randn(1, 1, 12, 8) * 0.1 + mean).contiguous();
        var k = T.Randn(1, 1, 6, 8) * 0.3; k[0, 0, 2, 0] = 3; k[0, 0, 4, 0] = -3;
        var probe = new Probe(new ExpectedAttention(null, 12, 4));
        using var cache = new PolicyCache(probe, new CacheBudget { Tokens = 3 });
        cache.Update(new CacheUpdate(k, torch.ones(1, 1, 6, 8, device: T.Dev), q.narrow(2, 6, 6), torch.arange(6L, device: T.Dev)));
        var s = probe.Last![0, 0].cpu().data<float>().ToArray();
        Assert.Equal(2, Array.IndexOf(s, s.Max()));
        Assert.Equal(4, Array.IndexOf(s, s.Min()));
    }

    [Fact]
    public void Policy_updates_and_evictions_leave_no_tensors_behind()
    {
        using var model = TinyLmTests.Model();
        foreach (var (name, make) in Scorers(model))
        {
            using var cache = new PolicyCache(make(0), new CacheBudget { Tokens = 5, Sinks = 1, Window = 1 });
            using var q = T.Randn(1, 4, 8, 8); using var k = T.Randn(1, 2, 8, 8); using var p = torch.arange(8L, device: T.Dev);
            using var q1 = T.Randn(1, 4, 1, 8); using var k1 = T.Randn(1, 2, 1, 8); using var p1 = torch.tensor(new long[] { 8 }, device: T.Dev);
            using var p2 = torch.tensor(new long[] { 9 }, device: T.Dev);
            var first = cache.Update(new CacheUpdate(k, k, q, p)); first.Keys.Dispose(); first.Values.Dispose(); first.KeyPositions?.Dispose(); first.Valid?.Dispose();
            var second = cache.Update(new CacheUpdate(k1, k1, q1, p1)); second.Keys.Dispose(); second.Values.Dispose(); second.KeyPositions?.Dispose(); second.Valid?.Dispose();
            T.NoLeak(() => { var view = cache.Update(new CacheUpdate(k1, k1, q1, p2)); return [view.Keys, view.Values, view.KeyPositions, view.Valid]; });
        }
    }

    /// <summary>Wraps a scorer and keeps its last scores.</summary>
    private sealed class Probe(TokenScorer? inner = null) : TokenScorer
    {
        public Tensor? Last { get; private set; }
        public override string Name => "probe";
        public override void Observe(PolicyContext context)
        {
            inner?.Observe(context);
            if (inner is not null && context.Queries is not null) Last = inner.Score(context).MoveToOuterDisposeScope();
        }
        public override Tensor Score(PolicyContext context) => inner?.Score(context) ?? context.Positions.to(ScalarType.Float32);
    }
}
