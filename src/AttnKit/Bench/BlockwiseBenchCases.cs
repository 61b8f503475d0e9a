using AttnKit.Attention;
using AttnKit.Attention.Blockwise;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>
/// Blockwise exact attention against the dense reference, causal, over N (rows of the attention suite; pick them with
/// <c>--cases</c>): the tiled forward pass (<see cref="FlashAttention.Forward"/>), forward plus the recomputing backward
/// (<see cref="FlashAttention.Backward"/>), Rabe &amp; Staats' chunked form (<see cref="MemoryEfficientAttention"/>), and
/// the reference's forward plus autograd backward. The tiled forms issue TorchSharp calls per 128 × 128 tile, so they
/// measure the algorithm's cost in launches and memory traffic, not a fused kernel; the reference's forward alone is
/// the attention suite's <c>reference-causal</c> row. Peak bytes are counted from shapes (the notebook measures them).
/// </summary>
public sealed class BlockwiseBenchCases : IBenchCaseProvider
{
    /// <summary>Tile size of the tiled rows.</summary>
    public const long Block = 128;

    /// <inheritdoc/>
    public IEnumerable<IBenchCase> Cases()
    {
        yield return new Tiled("flash-tiled-causal", backward: false, chunked: false);
        yield return new Tiled("flash-tiled-causal-fwd+bwd", backward: true, chunked: false);
        yield return new Tiled("memory-efficient-causal", backward: false, chunked: true);
        yield return new ReferenceBackward();
        yield return new KernelSpeed("flash-fused-tiles-causal", shards: 0, zigzag: false);
        yield return new KernelSpeed("ring-fused-contiguous-causal", shards: 4, zigzag: false);
        yield return new KernelSpeed("ring-fused-zigzag-causal", shards: 4, zigzag: true);
    }

    /// <summary>
    /// The blockwise forms at kernel speed (<see cref="BlockwiseOptions.FusedTiles"/>): tiled FlashAttention with query
    /// blocks of N/2 (each block's whole key tiles one fused call, the diagonal tile a causal one, merged by log-sum-exp),
    /// and ring attention over 4 simulated shards on one device (contiguous or zig-zag), every tile a fused call. Compared
    /// with one fused causal SDPA call in PyTorch.
    /// </summary>
    private sealed class KernelSpeed(string name, int shards, bool zigzag) : IBenchCase
    {
        public string Suite => "attention";
        public string Name => name;
        public string Path => shards == 0
            ? "tiled with fused tiles (query blocks of N/2; whole key tiles in one kernel call, the diagonal tile causal; log-sum-exp merged in place)"
            : $"ring attention, {shards} simulated shards on one device, {(zigzag ? "zig-zag" : "contiguous")} layout: each step's shards side by side, one fused call per tile kind, in-place log-sum-exp merges, the blocks each shard holds read as views of a key/value stack laid out twice (the sends logged, not copied); steps not synchronized";
        public string? PyTorchName => "sdpa-causal";
        public string FlopsNote => "4·B·H·N²·D / 2 (causal)";
        public double Flops(BenchShape s) => s.AttentionFlops * 0.5;
        public double Tokens(BenchShape s) => s.Batch * s.Tokens;
        public long PeakBytes(BenchShape s) => 6 * s.Batch * s.Heads * s.Tokens * s.HeadDim * s.ElementBytes + 2 * s.Batch * s.Heads * s.Tokens * (s.HeadDim + 1) * 4;
        public bool Supports(BenchShape s, Device device, out string why)
        {
            why = s.Tokens % (2L * Math.Max(shards, 1)) != 0 ? $"N must be a multiple of {2 * Math.Max(shards, 1)}" : "";
            return why.Length == 0;
        }
        public IBenchRun Prepare(BenchShape s, Device device)
        {
            var scope = torch.NewDisposeScope();
            var (q, k, v) = Inputs(s, device, grad: false);
            var options = BlockwiseOptions.Causal with { QueryBlock = s.Tokens / 2, KeyBlock = s.Tokens / 2, FusedTiles = true };
            var group = shards > 0 ? Attention.Parallel.ShardGroup.Create(shards, device) : null;
            Attention.Parallel.SequenceLayout? layout = shards == 0 ? null : zigzag ? new Attention.Parallel.ZigZagLayout(s.Tokens, shards) : new Attention.Parallel.ContiguousLayout(s.Tokens, shards);
            return new AttentionBenchCases.Run(scope, () =>
            {
                using var inner = torch.NewDisposeScope();
                if (group is null) { using var r = FlashAttention.Forward(q, k, v, options); return; }
                using var ring = Attention.Parallel.RingAttention.Forward(q, k, v, group, layout!, BlockwiseOptions.Causal with { FusedTiles = true, SynchronizeSteps = false });
                group.ClearLog();                                                   // the transfer log would grow with every repeat
            });
        }
    }

    private static (Tensor q, Tensor k, Tensor v) Inputs(BenchShape s, Device device, bool grad)
    {
        var gen = new Generator(4321);
        Tensor Make() { var t = torch.randn([s.Batch, s.Heads, s.Tokens, s.HeadDim], generator: gen).to(s.DType, device); return grad ? t.requires_grad_(true) : t; }
        return (Make(), Make(), Make());
    }

    private sealed class Tiled(string name, bool backward, bool chunked) : IBenchCase
    {
        private static readonly BlockwiseOptions Options = BlockwiseOptions.Causal with { QueryBlock = Block, KeyBlock = Block };
        public string Suite => "attention";
        public string Name => name;
        public string Path => chunked
            ? $"memory-efficient (Rabe & Staats: {Block}-query chunks, {Block}-key summaries merged once; TorchSharp calls per chunk, not a fused kernel)"
            : $"tiled (online softmax over {Block} × {Block} tiles, causal tiles skipped{(backward ? ", backward recomputes each tile" : "")}; TorchSharp calls per tile, not a fused kernel)";
        public string? PyTorchName => null;
        public string FlopsNote => "4·B·H·N²·D / 2 (causal)" + (backward ? " × 3.5 (forward + backward, backward = 2.5 × forward)" : "");
        public double Flops(BenchShape s) => s.AttentionFlops * 0.5 * (backward ? 3.5 : 1);
        public double Tokens(BenchShape s) => s.Batch * s.Tokens;
        public long PeakBytes(BenchShape s)
        {
            long io = 4 * s.Batch * s.Heads * s.Tokens * s.HeadDim * s.ElementBytes * (backward ? 2 : 1);      // q, k, v, o (and their gradients)
            long fp32 = s.Batch * s.Heads * s.Tokens * (s.HeadDim + 1) * 4 * (backward ? 4 : 1);              // float32 output and lse (and dq, dk, dv)
            long tile = 4 * s.Batch * s.Heads * Block * Block * 4;                                            // scores, exps and their gradients of one tile
            long chunks = chunked ? s.Batch * s.Heads * Block * (s.Tokens / Block + 1) * (s.HeadDim + 2) * 4 : 0; // one query chunk's summaries
            return io + fp32 + tile + chunks;
        }
        public bool Supports(BenchShape s, Device device, out string why)
        {
            long limit = device.type == DeviceType.CUDA ? 16384 : 2048;
            why = s.Tokens > limit ? $"N > {limit}: {s.Tokens / Block}² / 2 tiles of separate calls take too long to time" : "";
            return why.Length == 0;
        }
        public IBenchRun Prepare(BenchShape s, Device device)
        {
            var scope = torch.NewDisposeScope();
            var (q, k, v) = Inputs(s, device, grad: false);
            var g = backward ? torch.randn_like(q) : null;
            return new AttentionBenchCases.Run(scope, () =>
            {
                using var inner = torch.NewDisposeScope();
                if (chunked) { MemoryEfficientAttention.Compute(q, k, v, Options); return; }
                using var r = FlashAttention.Forward(q, k, v, Options);
                if (backward) FlashAttention.Backward(q, k, v, r.Output, r.LogSumExp, g!, Options);
            });
        }
    }

    private sealed class ReferenceBackward : IBenchCase
    {
        public string Suite => "attention";
        public string Name => "reference-causal-fwd+bwd";
        public string Path => "reference (dense float32; autograd keeps the N² scores, exponentials and weights for the backward pass)";
        public string? PyTorchName => null;
        public string FlopsNote => "4·B·H·N²·D / 2 (causal) × 3.5 (forward + backward), though the reference computes the full N² scores";
        public double Flops(BenchShape s) => s.AttentionFlops * 0.5 * 3.5;
        public double Tokens(BenchShape s) => s.Batch * s.Tokens;
        public long PeakBytes(BenchShape s) => 6 * s.Batch * s.Heads * s.Tokens * s.Tokens * 4 + 8 * s.Batch * s.Heads * s.Tokens * s.HeadDim * 4;
        public bool Supports(BenchShape s, Device device, out string why)
        {
            why = "";
            long limit = device.type == DeviceType.CUDA ? 24L << 30 : 2L << 30;
            if (PeakBytes(s) > limit) { why = $"would hold {PeakBytes(s) / (1 << 20)} MiB of N² tensors for autograd (limit {limit >> 20} MiB)"; return false; }
            return true;
        }
        public IBenchRun Prepare(BenchShape s, Device device)
        {
            var scope = torch.NewDisposeScope();
            var (q, k, v) = Inputs(s, device, grad: true);
            var g = torch.randn_like(q);
            return new AttentionBenchCases.Run(scope, () =>
            {
                using var inner = torch.NewDisposeScope();
                using var r = ScaledDotProductAttention.Reference(q, k, v, AttentionOptions.Causal);
                torch.autograd.backward([r.Output], [g]);
                q.grad?.zero_(); k.grad?.zero_(); v.grad?.zero_();
            });
        }
    }
}
