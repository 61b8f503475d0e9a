using System.Diagnostics;
using AttnKit.Attention.Blockwise;
using AttnKit.Attention.Masks;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Parallel;

/// <summary>What a ring pass did.</summary>
public sealed class RingAttentionResult : IDisposable
{
    /// <summary>The output (B, Hq, N, Dv), assembled on q's device in q's dtype.</summary>
    public Tensor Output { get; }
    /// <summary>Pairs each shard computed at each step [shard, step] (<see cref="ContextParallelWork"/>; null for masks other than none and causal).</summary>
    public ContextParallelWork? Work { get; }
    /// <summary>Tiles skipped because a causal mask hid the whole key/value block from a shard's queries.</summary>
    public int BlocksSkipped { get; }
    /// <summary>Milliseconds per ring step (compute on every shard, then the sends; devices synchronized at the end of each step).</summary>
    public double[] StepMilliseconds { get; }
    /// <summary>What was sent, step by step.</summary>
    public IReadOnlyList<Transfer> Transfers { get; }

    internal RingAttentionResult(Tensor output, ContextParallelWork? work, int skipped, double[] ms, IReadOnlyList<Transfer> transfers) =>
        (Output, Work, BlocksSkipped, StepMilliseconds, Transfers) = (output, work, skipped, ms, transfers);

    /// <inheritdoc/>
    public void Dispose() => Output.Dispose();
}

/// <summary>
/// Ring attention. Liu, Zaharia &amp; Abbeel, "Ring Attention with Blockwise Transformers for Near-Infinite Context", 2023
/// (arXiv 2310.01889), §3 and Algorithm 1. The sequence is split over P shards arranged in a ring; each shard keeps
/// its block of queries while the key/value blocks travel around the ring, one hop per step, and each shard merges the
/// partial attention of every block it receives with the log-sum-exp merge. After P steps every query has seen every
/// key, and no shard ever held more than one key/value block besides its own: memory per shard O(N/P).
/// (In the paper the sends overlap the next block's compute; here a step computes, then sends.)
/// With a causal mask, <see cref="StripedLayout"/> or <see cref="ZigZagLayout"/> balances the work across shards.
/// 1. split q, k, v over the shards by the layout; shard s starts with its own key/value block;
/// 2. at step t, shard s holds the key/value block of shard (s − t) mod P: it computes the partial attention of its
///    queries over that block (skipped when a causal mask hides all of it) and merges it into its running result;
/// 3. unless t = P − 1, every shard sends the key/value block it holds to shard s + 1 mod P;
/// 4. gather the shards' outputs at their positions.
/// With <see cref="BlockwiseOptions.FusedTiles"/> (no mask or causal, no score modifier, layouts whose shards hold a few
/// runs of consecutive positions: contiguous, zig-zag) step 2 is fused kernel calls, one per pair of runs
/// (<see cref="FusedTile.RunPairs"/>), so the ring runs at kernel speed; forward only. Striped layouts keep the
/// per-tile form (their runs are single tokens).
/// </summary>
public static class RingAttention
{
    /// <summary>Self-attention over the ring (steps 1–4): q (B, Hq, N, D), k and v (B, Hkv, N, ·), with N = layout.Tokens.</summary>
    public static RingAttentionResult Forward(Tensor q, Tensor k, Tensor v, ShardGroup group, SequenceLayout layout, BlockwiseOptions? options = null)
    {
        options ??= BlockwiseOptions.None;
        var scale = ValidateRing(q, k, v, group, layout, options);
        int p = group.Count;
        int firstLog = group.Log.Count;
        using var scope = torch.NewDisposeScope();
        var positions = Enumerable.Range(0, p).Select(layout.Positions).ToArray();
        var qs = new Tensor[p]; var kCur = new Tensor[p]; var vCur = new Tensor[p]; var posCur = new int[p];
        var qPos = new Tensor[p]; var acc = new PartialAttention[p];
        long[] shape = q.shape;
        for (int s = 0; s < p; s++)                                                         // 1.
        {
            var dev = group.Devices[s];
            qs[s] = layout.Take(q, s).to(dev);                                              // (B, Hq, N/P, D)
            kCur[s] = layout.Take(k, s).to(dev);                                            // (B, Hkv, N/P, D)
            vCur[s] = layout.Take(v, s).to(dev);
            posCur[s] = s;
            qPos[s] = torch.tensor(positions[s], ScalarType.Int64, dev);
            acc[s] = PartialAttention.Empty(shape[0], shape[1], positions[s].Length, v.shape[3], dev);
        }
        bool causal = options.Mask?.Kind == MaskKind.Causal;
        bool fused = options.FusedTiles && FusedTile.Supports(options) && positions.All(x => FusedTile.Runs(x).Count <= 8); // striped layouts: per-token runs, the teaching tile
        int skipped = 0;
        var ms = new double[p];
        var watch = new Stopwatch();
        for (int t = 0; t < p; t++)
        {
            watch.Restart();
            for (int s = 0; s < p; s++)                                                     // 2.
            {
                var keys = positions[posCur[s]];
                if (causal && keys[0] > positions[s][^1]) { skipped++; continue; }
                using var part = fused
                    ? FusedTile.RunPairs(qs[s], kCur[s], vCur[s], positions[s], keys, options.Mask, scale)   //    fused tiles per run of consecutive positions
                    : AttentionTile.PartialUnchecked(qs[s], kCur[s], vCur[s], qPos[s], TakePositions(keys, group.Devices[s]), options.Mask, options.ScoreMod, scale);
                var merged = LogSumExpMerge.Merge(acc[s], part);
                acc[s].Dispose();
                acc[s] = merged;
            }
            if (t < p - 1)                                                                  // 3.
            {
                var (kNext, vNext, posNext) = (new Tensor[p], new Tensor[p], new int[p]);
                for (int s = 0; s < p; s++)
                {
                    int to = (s + 1) % p;
                    kNext[to] = group.Send(kCur[s], s, to, t, "k block");
                    vNext[to] = group.Send(vCur[s], s, to, t, "v block");
                    posNext[to] = posCur[s];
                }
                for (int s = 0; s < p; s++) { kCur[s].Dispose(); vCur[s].Dispose(); }
                (kCur, vCur, posCur) = (kNext, vNext, posNext);
            }
            group.Synchronize();
            ms[t] = watch.Elapsed.TotalMilliseconds;
            TensorMemory.Sample();
        }
        var output = layout.Assemble(acc.Select(a => a.Output.to(q.dtype)).ToList(), q.device); // 4. (B, Hq, N, Dv)
        var work = options.Mask is null || causal ? ContextParallelWork.Ring(layout, causal) : null;
        return new RingAttentionResult(output.MoveToOuterDisposeScope(), work, skipped, ms, group.Log.Skip(firstLog).ToList());
    }

    private static Tensor TakePositions(long[] keys, Device device) => torch.tensor(keys, ScalarType.Int64, device);

    /// <summary>Checks q, k, v as the dense reference does, and that the ring fits them: self-attention (Nq = Nk = layout.Tokens, offset 0) over group.Count shards.</summary>
    internal static double ValidateRing(Tensor q, Tensor k, Tensor v, ShardGroup group, SequenceLayout layout, BlockwiseOptions options)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(layout);
        var (_, offset, scale) = FlashAttention.Validate(q, k, v, options);
        if (q.shape[2] != k.shape[2] || offset != 0)
            throw new ArgumentException($"q: the ring computes self-attention, so queries and keys are the same {k.shape[2]} tokens at offset 0; got {q.shape[2]} queries at offset {offset}", nameof(q));
        if (layout.Tokens != q.shape[2]) throw new ArgumentException($"layout: expected a layout of the {q.shape[2]} tokens, got one of {layout.Tokens}", nameof(layout));
        if (layout.Shards != group.Count) throw new ArgumentException($"layout: expected a layout over the group's {group.Count} shards, got {layout.Shards}", nameof(layout));
        return scale;
    }
}
