using AttnKit.Attention;
using AttnKit.Attention.Masks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>
/// The attention suite: scaled dot-product attention through the fused kernel (non-causal, causal, grouped-query,
/// forward and backward), through structured masks (sliding window, prefix-LM, packed documents: fused calls over the
/// blocks the mask reaches), and the dense float32 reference. FLOPs are the dense count 4·B·H·N²·D, halved when
/// causal; masked rows count the pairs their mask allows (what attention needs, not what a dense kernel computes), and say so.
/// </summary>
public sealed class AttentionBenchCases : IBenchCaseProvider
{
    /// <inheritdoc/>
    public IEnumerable<IBenchCase> Cases()
    {
        yield return new Sdpa("sdpa", "sdpa", AttentionOptions.None, causalFlops: false, gqa: false, backward: false);
        yield return new Sdpa("sdpa-causal", "sdpa-causal", AttentionOptions.Causal, causalFlops: true, gqa: false, backward: false, flex: "flex-causal");
        yield return new Sdpa("sdpa-gqa-causal", "sdpa-gqa-causal", AttentionOptions.Causal, causalFlops: true, gqa: true, backward: false);
        yield return new Sdpa("sdpa-causal-fwd+bwd", "sdpa-causal-fwd+bwd", AttentionOptions.Causal, causalFlops: true, gqa: false, backward: true);
        // masked rows count the (query, key) pairs the mask allows: 4·B·H·D·pairs
        yield return new Sdpa("sliding-window-1024", "masked-window-1024", new AttentionOptions { Mask = Masks.SlidingWindow(1024) }, causalFlops: false, gqa: false, backward: false,
            pairs: n => { long w = Math.Min(1024, n); return w * (w + 1) / 2.0 + (n - w) * (double)w; }, pairsNote: "window: w(w+1)/2 + (N − w)·w pairs", flex: "flex-window-1024");
        yield return new Sdpa("prefix-lm-256", "masked-prefix-256", new AttentionOptions { Mask = Masks.PrefixLM(256) }, causalFlops: false, gqa: false, backward: false,
            pairs: n => { long p = Math.Min(256, n); return n * (n + 1) / 2.0 + p * (p - 1) / 2.0; }, pairsNote: "prefix-LM: N(N+1)/2 + P(P−1)/2 pairs", flex: "flex-prefix-256");
        yield return new Sdpa("document-4", "masked-document-4", null, causalFlops: false, gqa: false, backward: false, documents: 4,
            pairs: n => { double l = n / 4.0; return 4 * l * (l + 1) / 2; }, pairsNote: "4 causal documents of N/4: 4·L(L+1)/2 pairs", flex: "flex-document-4");
        yield return new Reference();
    }

    private static (Tensor q, Tensor k, Tensor v) Inputs(BenchShape s, Device device, bool gqa, bool grad)
    {
        var gen = new Generator(1234);
        long kv = gqa ? s.KvHeads : s.Heads;
        Tensor Make(long heads) { var t = torch.randn([s.Batch, heads, s.Tokens, s.HeadDim], generator: gen).to(s.DType, device); return grad ? t.requires_grad_(true) : t; }
        return (Make(s.Heads), Make(kv), Make(kv));
    }

    private sealed class Sdpa(string name, string pytorch, AttentionOptions? options, bool causalFlops, bool gqa, bool backward, int documents = 0,
        Func<long, double>? pairs = null, string? pairsNote = null, string? flex = null) : IBenchCase
    {
        public string? FlexName => flex;
        public string Suite => "attention";
        public string Name => name;
        public string Path => options?.Mask is { } m && m != Masks.Causal || documents > 0
            ? "fused in blocks (StructuredMaskAttention: fused calls over only the blocks the mask reaches; no dense mask)"
            : "fused (libtorch's SDPA; flash on CUDA where it applies)";
        public string? PyTorchName => pytorch;
        public string FlopsNote => (pairs is not null ? $"4·B·H·D × the pairs the mask allows ({pairsNote})" : causalFlops ? "4·B·H·N²·D / 2 (causal)" : "4·B·H·N²·D")
                                   + (backward ? " × 3.5 (forward + backward, backward = 2.5 × forward)" : "");
        public double Flops(BenchShape s) => (pairs is not null ? 4.0 * s.Batch * s.Heads * s.HeadDim * pairs(s.Tokens) : s.AttentionFlops * (causalFlops ? 0.5 : 1)) * (backward ? 3.5 : 1);
        public double Tokens(BenchShape s) => s.Batch * s.Tokens;
        public long PeakBytes(BenchShape s)
        {
            long kv = gqa ? s.KvHeads : s.Heads;
            long io = (2 * s.Heads + 2 * kv) * s.Batch * s.Tokens * s.HeadDim * s.ElementBytes * (backward ? 2 : 1); // q, k, v, out (and their grads)
            return io;
        }
        public bool Supports(BenchShape s, Device device, out string why)
        {
            why = "";
            if (gqa && (s.KvHeads == s.Heads || s.Heads % s.KvHeads != 0)) { why = "needs fewer key/value heads than query heads"; return false; }
            if (documents > 0 && s.Tokens % documents != 0) { why = $"N must be a multiple of {documents} documents"; return false; }
            return true;
        }
        public IBenchRun Prepare(BenchShape s, Device device)
        {
            var scope = torch.NewDisposeScope();
            var (q, k, v) = Inputs(s, device, gqa, backward);
            var opts = options;
            if (documents > 0)
            {
                var ids = torch.arange(s.Tokens, ScalarType.Int64, device).floor_divide(s.Tokens / documents).view(1, -1).expand(s.Batch, -1).contiguous();
                opts = new AttentionOptions { Mask = Masks.Document(ids) & Masks.Causal };
            }
            var grad = backward ? torch.randn_like(q) : null;
            return new Run(scope, () =>
            {
                using var inner = torch.NewDisposeScope();
                var o = ScaledDotProductAttention.Fused(q, k, v, opts);
                if (backward) torch.autograd.backward([o], [grad!]);
            });
        }
    }

    private sealed class Reference : IBenchCase
    {
        public string Suite => "attention";
        public string Name => "reference-causal";
        public string Path => "reference (dense float32: scores, softmax and weights materialized)";
        public string? PyTorchName => null;
        public string FlopsNote => "4·B·H·N²·D / 2 (causal), though the reference computes the full N² scores";
        public double Flops(BenchShape s) => s.AttentionFlops * 0.5;
        public double Tokens(BenchShape s) => s.Batch * s.Tokens;
        public long PeakBytes(BenchShape s) => 4 * s.Batch * s.Heads * s.Tokens * s.Tokens * 4 + 4 * s.Batch * s.Heads * s.Tokens * s.HeadDim * 4;
        public bool Supports(BenchShape s, Device device, out string why)
        {
            why = "";
            long limit = device.type == DeviceType.CUDA ? 24L << 30 : 2L << 30;
            if (PeakBytes(s) > limit) { why = $"would hold {PeakBytes(s) / (1 << 20)} MiB of scores and weights (limit {limit >> 20} MiB)"; return false; }
            return true;
        }
        public IBenchRun Prepare(BenchShape s, Device device)
        {
            var scope = torch.NewDisposeScope();
            var (q, k, v) = Inputs(s, device, false, false);
            return new Run(scope, () => { using var _ = ScaledDotProductAttention.Reference(q, k, v, AttentionOptions.Causal); });
        }
    }

    internal sealed class Run(DisposeScope scope, Action step) : IBenchRun
    {
        public void Step() => step();
        public void Dispose() => scope.Dispose();
    }
}
