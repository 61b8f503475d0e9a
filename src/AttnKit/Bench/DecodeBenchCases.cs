using AttnKit.Attention;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>
/// The decode suite: one decoding step of one layer at a given context length with a static (preallocated) KV cache:
/// 1. write the new token's key and value into the cache at the current position (no reallocation);
/// 2. attend from the new query to the cache up to that position through the fused path.
/// The KV-cache issue adds its caches and eviction policies here as further providers.
/// </summary>
public sealed class DecodeBenchCases : IBenchCaseProvider
{
    /// <inheritdoc/>
    public IEnumerable<IBenchCase> Cases()
    {
        yield return new StaticCacheStep();
    }

    private sealed class StaticCacheStep : IBenchCase
    {
        public string Suite => "decode";
        public string Name => "decode-static-cache";
        public string Path => "fused (one query over the cache: no mask needed)";
        public string? PyTorchName => "decode-static-cache";
        public string FlopsNote => "4·B·H·N·D (one query over N cached keys)";
        public double Flops(BenchShape s) => 4.0 * s.Batch * s.Heads * s.Tokens * s.HeadDim;
        public double Tokens(BenchShape s) => s.Batch;
        public long PeakBytes(BenchShape s) => 2 * s.Batch * s.KvHeads * (s.Tokens + 1) * s.HeadDim * s.ElementBytes + 2 * s.Batch * s.Heads * s.HeadDim * s.ElementBytes;
        public bool Supports(BenchShape s, Device device, out string why) { why = ""; return true; }

        public IBenchRun Prepare(BenchShape s, Device device)
        {
            var scope = torch.NewDisposeScope();
            var gen = new Generator(7);
            Tensor R(params long[] shape) => torch.randn(shape, generator: gen).to(s.DType, device);
            var kCache = R(s.Batch, s.KvHeads, s.Tokens + 1, s.HeadDim);   // (B, Hkv, Nmax, D)
            var vCache = R(s.Batch, s.KvHeads, s.Tokens + 1, s.HeadDim);
            var q = R(s.Batch, s.Heads, 1, s.HeadDim);
            var kNew = R(s.Batch, s.KvHeads, 1, s.HeadDim);
            var vNew = R(s.Batch, s.KvHeads, 1, s.HeadDim);
            long t = s.Tokens;                                           // the new token's position
            var kView = kCache.narrow(2, 0, t + 1);                      // views made once: what a cache would hand out
            var vView = vCache.narrow(2, 0, t + 1);
            var kSlot = kCache.narrow(2, t, 1);
            var vSlot = vCache.narrow(2, t, 1);
            return new AttentionBenchCases.Run(scope, () =>
            {
                using var inner = torch.NewDisposeScope();
                kSlot.copy_(kNew);                                       // 1.
                vSlot.copy_(vNew);
                ScaledDotProductAttention.Fused(q, kView, vView);        // 2. (B, H, 1, D)
            });
        }
    }
}
