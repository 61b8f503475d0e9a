using AttnKit.Attention.Masks;
using AttnKit.Cache;
using AttnKit.Models;
using AttnKit.Tests.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Cache;

[Collection("global RNG")]
public class StorageFormTests
{
    /// <summary>Prefill 7, decode 5 one at a time, then a chunk of 3: logits (B, 15, V).</summary>
    internal static Tensor Decode(TinyLm model, Tensor tokens, ModelCache cache)
    {
        var chunks = new List<Tensor> { model.Forward(tokens.narrow(1, 0, 7), cache) };
        for (int i = 7; i < 12; i++) chunks.Add(model.Forward(tokens.narrow(1, i, 1), cache));
        chunks.Add(model.Forward(tokens.narrow(1, 12, 3), cache));
        return torch.cat(chunks, 1);
    }

    [Fact]
    public void Decoding_with_a_static_cache_equals_recomputation_and_never_reallocates()
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = TinyLmTests.Tokens(3, 2, 15);
        using var cache = model.NewCache(_ => new StaticCache(20));
        var first = new List<Tensor>();
        var logits = new List<Tensor> { model.Forward(tokens.narrow(1, 0, 7), cache) };
        var buffers = cache.Layers.Select(l => ((StaticCache)l).KeyBuffer!).ToArray();
        for (int i = 7; i < 15; i++) logits.Add(model.Forward(tokens.narrow(1, i, 1), cache));
        T.Close(model.Forward(tokens), torch.cat(logits, 1), 1e-5, "static-cache logits");
        for (int i = 0; i < buffers.Length; i++) Assert.Same(buffers[i], ((StaticCache)cache[i]).KeyBuffer);
        Assert.Equal(2L * 2 * 2 * 2 * 8 * 4 * 20, cache.StorageBytes);                     // allocated for 20 tokens from the start
        using var greedy = Generation.Generate(model, tokens.narrow(1, 0, 5), new GenerationOptions { MaxNewTokens = 9, Cache = _ => new StaticCache(14) });
        using var recomputed = Generation.Generate(model, tokens.narrow(1, 0, 5), new GenerationOptions { MaxNewTokens = 9, NoCache = true });
        Assert.Equal(recomputed.Tokens.data<long>().ToArray(), greedy.Tokens.data<long>().ToArray());
    }

    [Fact]
    public void A_static_cache_refuses_tokens_past_its_capacity()
    {
        using var cache = new StaticCache(4);
        using var scope = torch.NewDisposeScope();
        var k = T.Randn(1, 2, 3, 8);
        cache.Update(new CacheUpdate(k, k, null, torch.arange(3L)));
        var e = Assert.Throws<ArgumentException>(() => cache.Update(new CacheUpdate(k, k, null, torch.arange(3L, 6L))));
        Assert.Contains("do not fit", e.Message);
        Assert.Throws<ArgumentException>(() => new StaticCache(0));
    }

    [Theory]
    [InlineData("dynamic")]
    [InlineData("static")]
    [InlineData("paged")]
    public void Crop_rolls_back_and_decoding_goes_on_as_if_the_dropped_tokens_never_came(string form)
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var pools = new PoolSet(model);
        var tokens = TinyLmTests.Tokens(5, 2, 12);
        var other = TinyLmTests.Tokens(6, 2, 4);
        using var cache = model.NewCache(Factory(form, pools, 2));
        model.Forward(tokens.narrow(1, 0, 8), cache);
        model.Forward(other, cache);                                                      // 4 tokens to reject
        cache.Crop(8);
        Assert.Equal(8, cache.Seen);
        var after = model.Forward(tokens.narrow(1, 8, 4), cache);
        T.Close(model.Forward(tokens).narrow(1, 8, 4), after, 1e-5, $"{form}: logits after crop");
    }

    [Theory]
    [InlineData("dynamic")]
    [InlineData("static")]
    [InlineData("paged")]
    public void Reorder_for_beam_search_equals_running_the_chosen_rows(string form)
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var pools = new PoolSet(model);
        var tokens = TinyLmTests.Tokens(7, 3, 10);
        using var cache = model.NewCache(Factory(form, pools, 3));
        model.Forward(tokens.narrow(1, 0, 8), cache);
        var beams = torch.tensor(new long[] { 2, 0, 2 }, device: T.Dev);
        cache.Reorder(beams);
        var next = tokens.index_select(0, beams).narrow(1, 8, 2);
        var got = model.Forward(next, cache);
        var expected = model.Forward(torch.cat([tokens.index_select(0, beams).narrow(1, 0, 8), next], 1)).narrow(1, 8, 2);
        T.Close(expected, got, 1e-5, $"{form}: reordered rows");
        Assert.Throws<ArgumentException>(() => cache.Reorder(torch.tensor(new long[] { 3 }, device: T.Dev)));
    }

    [Fact]
    public void Window_cache_equals_recomputation_under_the_window_mask_keeping_original_positions()
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = TinyLmTests.Tokens(9, 2, 15);
        foreach (var (sinks, window, mask) in new[] { (0, 4, Masks.SlidingWindow(4)), (2, 3, Masks.SinksAndWindow(2, 3)), (3, 5, Masks.SinksAndWindow(3, 5)) })
        {
            using var cache = model.NewCache(_ => new SlidingWindowCache(window, sinks));
            var got = Decode(model, tokens, cache);
            using var full = model.Run(tokens, null, new ForwardOptions { Mask = mask });
            T.Close(full.Output, got, 1e-5, $"sinks {sinks}, window {window}");
            Assert.Equal(sinks + window, cache[0].Length);
            Assert.Equal(2L * 2 * 2 * 2 * 8 * 4 * (sinks + window), cache.StorageBytes);   // fixed: S + W slots
        }
    }

    [Fact]
    public void StreamingLLM_repositioning_rotates_kept_keys_at_their_rank_in_the_cache()
    {
        // one attention-only layer: keys depend on the token alone, so decoding over the kept tokens at their ranks
        // equals running the model from scratch on the kept tokens (positions 0 … L − 1)
        torch.manual_seed(2);
        using var model = new TinyLm(new TinyLmConfig { VocabSize = 37, ModelDim = 32, Layers = 1, Heads = 4, KvHeads = 2, MlpDim = 0 }, T.Dev);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = TinyLmTests.Tokens(4, 1, 14);
        using var repositioned = model.NewCache(_ => new SlidingWindowCache(4, 2, reposition: true));
        using var original = model.NewCache(_ => new SlidingWindowCache(4, 2));
        model.Forward(tokens.narrow(1, 0, 6), repositioned);
        model.Forward(tokens.narrow(1, 0, 6), original);
        for (int t = 6; t < 14; t++)
        {
            var got = model.Forward(tokens.narrow(1, t, 1), repositioned);
            var kept = torch.cat([tokens.narrow(1, 0, 2), tokens.narrow(1, t - 3, 4)], 1);        // sinks + the window ending at t
            T.Close(model.Forward(kept).narrow(1, 5, 1), got, 1e-5, $"step {t}: ranks");
            var orig = model.Forward(tokens.narrow(1, t, 1), original);
            if (t > 6) Assert.True(T.RelRms(orig, got) > 1e-4, "keeping original positions differs once tokens are evicted");
        }
        Assert.True(repositioned[0].StoresRotatedKeys);                                           // no key is re-rotated: the sinks are read at the query's rank
        Assert.True(original[0].StoresRotatedKeys);
    }

    [Theory]
    [InlineData(4, 8, 40)]
    [InlineData(2, 3, 9)]
    [InlineData(1, 4, 6)]
    public void StreamingLLM_gives_every_query_of_a_chunk_its_own_rank_as_token_by_token_decoding_does(int sinks, int window, int prefill)
    {
        // a prefill (or chunk) that overflows sinks + window: each query must read the sinks at its own rank
        // min(p, S + W − 1), so one call over the chunk equals feeding the tokens one at a time
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = TinyLmTests.Tokens(21, 2, prefill + 5);
        using var chunked = model.NewCache(_ => new SlidingWindowCache(window, sinks, reposition: true));
        using var single = model.NewCache(_ => new SlidingWindowCache(window, sinks, reposition: true));
        var outs = new List<Tensor> { model.Forward(tokens.narrow(1, 0, prefill), chunked) };
        outs.Add(model.Forward(tokens.narrow(1, prefill, 5), chunked));                           // a second chunk, after the cache is full
        var steps = Enumerable.Range(0, prefill + 5).Select(t => model.Forward(tokens.narrow(1, t, 1), single)).ToList();
        T.Close(torch.cat(steps, 1), torch.cat(outs, 1), 1e-5, $"S={sinks} W={window} prefill {prefill}");
    }

    [Fact]
    public void A_paged_cache_gives_the_outputs_of_a_contiguous_one()
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var pools = new PoolSet(model);
        var tokens = TinyLmTests.Tokens(11, 2, 15);
        using var paged = model.NewCache(Factory("paged", pools, 2));
        using var dynamic = model.NewCache();
        T.Close(Decode(model, tokens, dynamic), Decode(model, tokens, paged), 1e-6, "paged vs contiguous");
        var table = ((PagedCache)paged[0]).BlockTable(1);
        Assert.Equal(4, table.Count);                                                     // 15 tokens in blocks of 4
        paged.Reset();
        Assert.All(pools.Pools, p => Assert.Equal(p.Pages, p.FreePages));                 // freeing returns every page
    }

    [Fact]
    public void A_paged_cache_reads_consecutive_pages_in_place_and_gathers_scattered_ones()
    {
        using var pool = new PagePool(16, 4, kvHeads: 2, headDim: 8, device: T.Dev);
        using var scope = torch.NewDisposeScope();
        static Tensor Gathered(PagedCache c, PagePool pool)                               // the reference: every slot by its block table
        {
            var slots = c.Slots();                                                        // (B, L)
            return pool.Keys.view(-1, 2, 8).index_select(0, slots.flatten()).view(slots.shape[0], slots.shape[1], 2, 8).permute(0, 2, 1, 3);
        }
        using var alone = new PagedCache(pool, batch: 2);
        var k = T.Randn(2, 2, 10, 8);
        var view = alone.Update(new CacheUpdate(k, k, null, torch.arange(10L, device: T.Dev)));
        T.Close(k, view.Keys, 0, "rows in consecutive pages");
        T.Close(Gathered(alone, pool), view.Keys, 0, "against the gather");
        pool.Keys.narrow(0, alone.BlockTable(0)[0], 1).fill_(7);                          // a view, not a copy: it sees the pool change
        Assert.Equal(7f, view.Keys[0, 0, 0, 0].item<float>());
        using var other = new PagedCache(pool);                                           // interleave a second sequence: pages scatter
        var k1 = T.Randn(2, 2, 3, 8);
        var o = T.Randn(1, 2, 3, 8);
        other.Update(new CacheUpdate(o, o, null, torch.arange(3L, device: T.Dev)));
        var after = alone.Update(new CacheUpdate(k1, k1, null, torch.arange(10L, 13L, device: T.Dev)));
        T.Close(Gathered(alone, pool), after.Keys, 0, "scattered pages are gathered");
        T.Close(torch.cat([view.Keys, k1], 2), after.Keys, 0, "and read the same tokens");
    }

    [Fact]
    public void Prefix_sharing_forks_without_copies_and_copies_a_shared_page_only_when_written()
    {
        using var pool = new PagePool(8, 4, kvHeads: 2, headDim: 8, device: T.Dev);
        using var scope = torch.NewDisposeScope();
        using var parent = new PagedCache(pool);
        var k = T.Randn(1, 2, 6, 8);
        var v = T.Randn(1, 2, 6, 8);
        parent.Update(new CacheUpdate(k, v, null, torch.arange(6L, device: T.Dev)));       // 2 pages: 4 + 2 tokens
        Assert.Equal(6, pool.FreePages);
        using var child = parent.Fork();
        Assert.Equal(6, pool.FreePages);                                                  // no page copied
        Assert.Equal(parent.BlockTable(0), child.BlockTable(0));
        Assert.Equal(2, pool.RefCount(parent.BlockTable(0)[1]));
        var k2 = T.Randn(1, 2, 1, 8);
        var view = child.Update(new CacheUpdate(k2, k2, null, torch.tensor(new long[] { 6 }, device: T.Dev)));
        Assert.Equal(5, pool.FreePages);                                                  // the shared half-full page was copied
        Assert.Equal(parent.BlockTable(0)[0], child.BlockTable(0)[0]);                    // the full page is still shared
        Assert.NotEqual(parent.BlockTable(0)[1], child.BlockTable(0)[1]);
        T.Close(torch.cat([k, k2], 2), view.Keys, 0, "child reads the prefix and its token");
        T.Close(k, parent.Read().Keys, 0, "the parent is untouched");
        child.Reset();
        Assert.Equal(6, pool.FreePages);
        Assert.Equal(1, pool.RefCount(parent.BlockTable(0)[0]));
    }

    [Fact]
    public void Cache_updates_leave_no_tensors_behind()
    {
        using var pool = new PagePool(8, 4, 2, 8, device: T.Dev);
        foreach (var make in new Func<LayerCache>[] { () => new DynamicCache(), () => new StaticCache(16), () => new SlidingWindowCache(3, 1), () => new SlidingWindowCache(3, 1, true), () => new PagedCache(pool) })
        {
            using var cache = make();
            using var k = T.Randn(1, 2, 5, 8);
            using var k1 = T.Randn(1, 2, 1, 8);
            using var p = torch.arange(5L, device: T.Dev);
            using var p1 = torch.tensor(new long[] { 5 }, device: T.Dev);
            cache.Update(new CacheUpdate(k, k, null, p)).Keys.Dispose();                  // warm: allocations of the first call stay with the cache
            T.NoLeak(() => { var view = cache.Update(new CacheUpdate(k1, k1, null, p1)); return [view.Keys, view.Values, view.KeyPositions, view.Valid, view.RotaryKeyPositions, view.SinkQueryPositions]; });
        }
    }

    internal sealed class PoolSet : IDisposable
    {
        public PagePool[] Pools { get; }
        public PoolSet(TinyLm model) => Pools = Enumerable.Range(0, model.Config.Layers)
            .Select(_ => new PagePool(16, 4, model.Config.KvHeadCount, model.Config.Dim, device: T.Dev)).ToArray();
        public void Dispose() { foreach (var p in Pools) p.Dispose(); }
    }

    internal static Func<int, LayerCache> Factory(string form, PoolSet pools, long batch) => form switch
    {
        "dynamic" => _ => new DynamicCache(),
        "static" => _ => new StaticCache(32),
        "paged" => i => new PagedCache(pools.Pools[i], batch),
        _ => throw new ArgumentException(form),
    };
}

public class CacheBadInputTests
{
    [Fact]
    public void Bad_arguments_are_refused_with_what_was_expected()
    {
        using var scope = torch.NewDisposeScope();
        Assert.Throws<ArgumentException>(() => new SlidingWindowCache(0));
        Assert.Throws<ArgumentException>(() => new SlidingWindowCache(4, -1));
        Assert.Throws<ArgumentException>(() => new PagePool(0, 4, 2, 8));
        using var pool = new PagePool(2, 4, 2, 8, device: T.Dev);
        using var paged = new PagedCache(pool);
        var wrongHeads = T.Randn(1, 3, 1, 8);
        var e = Assert.Throws<ArgumentException>(() => paged.Update(new CacheUpdate(wrongHeads, wrongHeads, null, torch.zeros(1, ScalarType.Int64, T.Dev))));
        Assert.Contains("heads Hkv like the page pool", e.Message);
        var k = T.Randn(1, 2, 9, 8);
        Assert.Throws<InvalidOperationException>(() => paged.Update(new CacheUpdate(k, k, null, torch.arange(9L, device: T.Dev))));   // 9 tokens need 3 pages of 4
        Assert.Throws<ArgumentException>(() => paged.Fork(row: 1));
        using var dynamic = new DynamicCache();
        var k2 = T.Randn(1, 2, 2, 8);
        dynamic.Update(new CacheUpdate(k2, k2, null, torch.arange(2L, device: T.Dev)));
        Assert.Throws<ArgumentException>(() => dynamic.Crop(3));
        Assert.Throws<ArgumentException>(() => dynamic.Reorder(torch.tensor(new[] { 0.5f }, device: T.Dev)));
        Assert.Throws<NotSupportedException>(() => new SlidingWindowCache(2).Crop(0));
        Assert.Throws<ArgumentException>(() => new CacheBudget { Tokens = 4, HeadTokens = [4, 0] }.Validate());
        Assert.Throws<ArgumentException>(() => CacheBudget.Fraction(1.5, 10));
        Assert.Throws<ArgumentException>(() => new AttnKit.Cache.Quantization.ZipVlCache(tau: 0));
        Assert.Throws<ArgumentException>(() => new AttnKit.Cache.Policies.SnapKv(kernel: 4));
    }
}
