using AttnKit.Attention;
using AttnKit.Cache;
using AttnKit.Cache.Policies;
using AttnKit.Positional;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>
/// One decoding step of one layer through each cache form, at a context of N tokens (the decode suite):
/// 1. prepare: a cache holding N random tokens (prefilled in chunks);
/// 2. step: append one token through <see cref="LayerCache.Update"/>, rotate the read keys where the cache stores them
///    raw, and attend from the new query to the view through the fused path;
/// 3. crop back to N where the form allows it (growing, static, paged), so that every step measures the same length;
///    the window forms hold a fixed number of slots anyway.
/// Targets (measured, not asserted): the window and StreamingLLM steps stay flat from 1k to 32k; the static step is
/// never slower than the growing one.
/// </summary>
public sealed class CacheBenchCases : IBenchCaseProvider
{
    /// <summary>Recent tokens of the window forms.</summary>
    public const int Window = 1024;
    /// <summary>Sinks of the StreamingLLM form.</summary>
    public const int Sinks = 4;

    /// <inheritdoc/>
    public IEnumerable<IBenchCase> Cases()
    {
        yield return new Step("decode-cache-growing", "DynamicCache: concatenates every step", (s, d) => (new DynamicCache(), null), window: null);
        yield return new Step("decode-cache-static", "StaticCache: writes one slot, reads a view", (s, d) => (new StaticCache(s.Tokens + 1), null), window: null);
        yield return new Step("decode-cache-paged", "PagedCache (16-token pages): gathers the block table", (s, d) =>
        {
            var pool = new PagePool((int)(s.Batch * ((s.Tokens + 1 + 15) / 16 + 1)), 16, s.KvHeads, s.HeadDim, null, s.DType, d);
            return (new PagedCache(pool, s.Batch), pool);
        }, window: null);
        yield return new Step("decode-cache-sliding-window", $"SlidingWindowCache (W = {Window}): ring buffer", (s, d) => (new SlidingWindowCache(Window), null), Window);
        yield return new Step("decode-cache-streamingllm", $"SlidingWindowCache ({Sinks} sinks + {Window}, StreamingLLM's positions): ring buffer, the sinks read by the query rotated at its rank", (s, d) => (new SlidingWindowCache(Window, Sinks, reposition: true), null), Window + Sinks);
        yield return new Step("decode-cache-h2o", $"PolicyCache(H2O, budget {Window}): weights, scores and a gather every step", (s, d) => (new PolicyCache(new HeavyHitterOracle(), new CacheBudget { Tokens = Window, Window = 16 }), null), Window);
        yield return new Step("decode-cache-h2o-interval-32", $"PolicyCache(H2O, budget {Window}, Interval 32): weights every step, scores and a gather every 32 steps", (s, d) => (new PolicyCache(new HeavyHitterOracle(), new CacheBudget { Tokens = Window, Window = 16, Interval = 32 }), null), Window + 32);
    }

    private sealed class Step(string name, string path, Func<BenchShape, Device, (LayerCache Cache, IDisposable? Owned)> make, long? window) : IBenchCase
    {
        public string Suite => "decode";
        public string Name => name;
        public string Path => path;
        public string? PyTorchName => null;
        public string FlopsNote => "4·B·H·L·D (one query over the L tokens the cache holds)";
        private long Held(BenchShape s) => window is long w ? Math.Min(w, s.Tokens + 1) : s.Tokens + 1;
        public double Flops(BenchShape s) => 4.0 * s.Batch * s.Heads * Held(s) * s.HeadDim;
        public double Tokens(BenchShape s) => s.Batch;
        public long PeakBytes(BenchShape s) => 2 * s.Batch * s.KvHeads * Held(s) * s.HeadDim * s.ElementBytes * 2;
        public bool Supports(BenchShape s, Device device, out string why) { why = ""; return true; }

        public IBenchRun Prepare(BenchShape s, Device device)
        {
            var scope = torch.NewDisposeScope();
            var gen = new Generator(7);
            Tensor R(params long[] shape) => torch.randn(shape, generator: gen).to(s.DType, device);
            var (cache, owned) = make(s, device);
            var rope = new RotaryEmbedding((int)s.HeadDim);
            for (long at = 0; at < s.Tokens; at += 4096)                                              // 1.
            {
                using var chunk = torch.NewDisposeScope();
                long n = Math.Min(4096, s.Tokens - at);
                cache.Update(new CacheUpdate(R(s.Batch, s.KvHeads, n, s.HeadDim), R(s.Batch, s.KvHeads, n, s.HeadDim),
                    R(s.Batch, s.Heads, n, s.HeadDim), torch.arange(at, at + n, ScalarType.Int64, device)));
            }
            var q = R(s.Batch, s.Heads, 1, s.HeadDim);
            var k = R(s.Batch, s.KvHeads, 1, s.HeadDim);
            var v = R(s.Batch, s.KvHeads, 1, s.HeadDim);
            var pos = torch.tensor(new[] { s.Tokens }, ScalarType.Int64, device);
            bool crop = cache is DynamicCache or StaticCache or PagedCache;
            return new Owning(scope, cache, owned, () =>
            {
                using var inner = torch.NewDisposeScope();
                var view = cache.Update(new CacheUpdate(k, v, q, pos));                                // 2.
                var keys = view.RotaryKeyPositions is null ? view.Keys : rope.Apply(view.Keys, view.RotaryKeyPositions);
                if (view.SinkQueryPositions is { } ranks)                                              //    StreamingLLM: the sinks at the query's rank
                    StreamingLlmAttention.Attend(q, view.SinkQueryStart is long r ? rope.ApplyAt(q, r) : rope.Apply(q, ranks), keys, view.Values, view.Sinks).Dispose();
                else
                    ScaledDotProductAttention.Fused(q, keys, view.Values, new AttentionOptions { QueryOffset = keys.shape[2] - 1 });
                if (crop) cache.Crop(s.Tokens);                                                        // 3.
            });
        }
    }

    private sealed class Owning(DisposeScope scope, LayerCache cache, IDisposable? owned, Action step) : IBenchRun
    {
        public void Step() => step();
        public int WarmupSteps => 80;                                                                 // the 33 key counts of an interval-32 eviction cycle, twice
        public void Dispose() { cache.Dispose(); owned?.Dispose(); scope.Dispose(); }
    }
}
