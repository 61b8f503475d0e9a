using AttnKit.Attention;
using AttnKit.Attention.Blockwise;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>
/// The decode suite: one decoding step of one layer at a given context length with a static (preallocated) KV cache:
/// 1. write the new token's key and value into the cache at the current position (no reallocation);
/// 2. attend from the new query to the cache up to that position, by one of the decode paths:
///    - <c>decode-static-cache</c>: <see cref="ScaledDotProductAttention.Fused"/>, the path the kit takes (the rule of
///      <see cref="FusedKernels.FoldDecodeMaxKeys"/>, today one <c>enable_gqa</c> call at every context);
///    - <c>decode-gqa-script</c>: one TorchScript call with <c>enable_gqa</c>, grouped heads read in place;
///    - <c>decode-expand</c>: TorchSharp's binding over key/value heads expanded with stride 0;
///    - <c>decode-split-kv-C</c>: <see cref="SplitKvDecode"/> with C chunks (fused log-sum-exp calls, merged);
///    - <c>decode-fold</c>: TorchSharp's own binding with each query group folded into the token axis (the path before
///      <see cref="FusedKernels"/>, kept to show what it cost).
/// Every row compares with PyTorch's <c>scaled_dot_product_attention(enable_gqa=True)</c> on the same cache.
/// The cache forms and eviction policies add their rows in <see cref="CacheBenchCases"/>.
/// </summary>
public sealed class DecodeBenchCases : IBenchCaseProvider
{
    /// <inheritdoc/>
    public IEnumerable<IBenchCase> Cases()
    {
        yield return new Step("decode-static-cache", "the kit's path (ScaledDotProductAttention.Fused): one enable_gqa call through TorchScript, grouped heads in place (the fold and expanded-head rules of FusedKernels.FoldDecodeMaxKeys are off)",
            (q, k, v) => ScaledDotProductAttention.Fused(q, k, v));
        yield return new Step("decode-gqa-script", "one TorchScript call with enable_gqa: grouped heads read in place",
            (q, k, v) => FusedKernels.Sdpa(q, k, v, null, false, null, q.shape[1] / k.shape[1]));
        yield return new Step("decode-expand", "TorchSharp binding: key/value heads expanded with stride 0 (no copy), every query head its own",
            (q, k, v) => FusedKernels.ExpandedHeads(q, k, v, null, q.shape[1] / k.shape[1]));
        foreach (int chunks in new[] { 4, 16, 64 })
            yield return new Step($"decode-split-kv-{chunks}", $"split-KV: {chunks} chunks, fused log-sum-exp calls, merged",
                (q, k, v) => SplitKvDecode.Compute(q, k, v, chunks));
        yield return new Step("decode-fold", "TorchSharp binding: query groups folded into the token axis (the old path)",
            (q, k, v) => FusedKernels.TorchSharpAttention(q, k, v, null, false, null, q.shape[1] / k.shape[1]));
    }

    private sealed class Step(string name, string path, Func<Tensor, Tensor, Tensor, Tensor> attend) : IBenchCase
    {
        public string Suite => "decode";
        public string Name => name;
        public string Path => path;
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
                attend(q, kView, vView);                                 // 2. (B, H, 1, D)
            });
        }
    }
}
