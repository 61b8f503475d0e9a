using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// A fixed-size cache of the last <see cref="Window"/> tokens plus the first <see cref="Sinks"/> ones, in a ring buffer:
/// the sliding-window cache of Mistral-style models (no sinks), and the storage of StreamingLLM. Xiao et al., "Efficient
/// Streaming Language Models with Attention Sinks", 2023 (arXiv 2309.17453), section 3.2: keep the attention sinks (the
/// first tokens) and a rolling window of recent tokens. Memory and step time do not grow with the context.
///
/// Positions are explicit, and keys are stored rotated at their original positions. A query at p reads the sinks and
/// positions p − W + 1 … p, exactly <see cref="Attention.Masks.Masks.SinksAndWindow"/>. With <c>reposition: true</c>
/// (StreamingLLM, §3.2: positions are assigned within the cache, not in the text) the distances are those of the
/// query's cache: the sinks at ranks 0 … S − 1, the window in order after them, the query last, at rank
/// r = min(p, S + W − 1). A window key at p′ then sits at distance p − p′, its distance in the text, and sink i at
/// r − i; RoPE scores depend only on that distance, so the query reads the window at its own position and the sinks
/// at rank r (<see cref="StreamingLlmAttention"/>). No key is re-rotated, and every query of a chunk gets its own
/// rank, as if the tokens came one at a time (the authors rotate the whole cache at every step; this is the same
/// scores at O(1) work per key instead of a rotation of all S + W keys).
///
/// 1. slots 0 … S − 1 hold positions 0 … S − 1; a later position p goes to slot S + (p − S) mod W;
/// 2. one new token: write it first (it overwrites the position p − W, which it may not read), then read the whole
///    buffer in place, which holds exactly what the token may read (no mask needed); a chunk of n &gt; 1: read the held
///    slots followed by the chunk, then write its last W tokens;
/// 3. the view carries every slot's original position (for the mask) and, when re-positioning and some query's rank
///    is below its position, the rank at which each query reads the sinks.
/// </summary>
public sealed class SlidingWindowCache : LayerCache
{
    private Tensor? keys, values, positions;   // (B, Hkv, S + W, D), (B, Hkv, S + W, Dv), (S + W) int64
    private readonly bool reposition;

    /// <summary>A cache of the last <paramref name="window"/> tokens and the first <paramref name="sinks"/>; <paramref name="reposition"/>: StreamingLLM's positions within the cache.</summary>
    public SlidingWindowCache(long window, long sinks = 0, bool reposition = false)
    {
        Check.Positive(window, nameof(window));
        Check.NonNegative(sinks, nameof(sinks));
        (Window, Sinks, this.reposition) = (window, sinks, reposition);
    }

    /// <summary>W: recent tokens kept.</summary>
    public long Window { get; }

    /// <summary>S: first tokens kept (attention sinks).</summary>
    public long Sinks { get; }

    /// <summary>Slots: S + W.</summary>
    public long Capacity => Sinks + Window;

    /// <summary>Whether the sinks are read at the query's rank in the cache (StreamingLLM's positions) instead of its position in the text.</summary>
    public bool Repositions => reposition;

    /// <inheritdoc/>
    public override long Length => Math.Min(Seen, Capacity);

    /// <inheritdoc/>
    public override long StorageBytes => keys is null ? 0 : keys.NumberOfElements * keys.ElementSize + values!.NumberOfElements * values.ElementSize;

    private long Slot(long p) => p < Sinks ? p : Sinks + (p - Sinks) % Window;                     // 1.

    /// <inheritdoc/>
    public override CacheView Update(CacheUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        CacheChecks.Update(update, keys, values);
        long n = update.Keys.shape[2];
        if (keys is null)
        {
            long[] ks = update.Keys.shape, vs = update.Values.shape;
            keys = torch.zeros([ks[0], ks[1], Capacity, ks[3]], update.Keys.dtype, update.Keys.device).DetachFromDisposeScope();
            values = torch.zeros([vs[0], vs[1], Capacity, vs[3]], update.Values.dtype, update.Values.device).DetachFromDisposeScope();
            positions = torch.full(Capacity, -1L, ScalarType.Int64, update.Keys.device).DetachFromDisposeScope();
        }
        Tensor k, v, kpos;
        long before = Seen;
        if (n == 1)                                                                                  // 2. write, then read in place
        {
            Write(update, 0, before);
            Seen += 1;
            long held = Length;
            (k, v, kpos) = (keys.narrow(2, 0, held), values!.narrow(2, 0, held), positions!.narrow(0, 0, held));
        }
        else                                                                                         // 2. read held + chunk, then write
        {
            long held = Length;
            using (var scope = torch.NewDisposeScope())
            {
                k = torch.cat([keys.narrow(2, 0, held), update.Keys], 2).MoveToOuterDisposeScope();            // (B, Hkv, held + n, D)
                v = torch.cat([values!.narrow(2, 0, held), update.Values], 2).MoveToOuterDisposeScope();
                kpos = torch.cat([positions!.narrow(0, 0, held), update.Positions], 0).MoveToOuterDisposeScope();
            }
            long first = Math.Max(0, n - Window);
            for (long p = before; p < before + Math.Min(n, Sinks - before); p++) Write(update, p - before, p);   // sinks of the chunk
            for (long i = Math.Max(first, Sinks - before); i < n; i++) Write(update, i, before + i);
            Seen += n;
        }
        // 3. StreamingLLM: a query at p has rank min(p, S + W − 1) in its cache; below S + W the two agree
        Tensor? sinkQueries = reposition && Sinks > 0 && before + n > Capacity ? update.Positions.clamp_max(Capacity - 1) : null;
        return new CacheView(k, v, kpos, SinkQueryPositions: sinkQueries, Window: Window, Sinks: Sinks, AllVisible: n == 1,
            SinkQueryStart: sinkQueries is not null && n == 1 ? Capacity - 1 : null);
    }

    private void Write(CacheUpdate update, long index, long position)
    {
        long slot = Slot(position);
        using var scope = torch.NewDisposeScope();
        keys!.narrow(2, slot, 1).copy_(update.Keys.narrow(2, index, 1));
        values!.narrow(2, slot, 1).copy_(update.Values.narrow(2, index, 1));
        positions!.narrow(0, slot, 1).fill_(position);
    }

    /// <inheritdoc/>
    public override void Reorder(Tensor batchIndex)
    {
        if (keys is null) return;
        CheckReorder(batchIndex, keys.shape[0], keys.device);
        if (batchIndex.shape[0] != keys.shape[0])
            throw new ArgumentException($"{nameof(batchIndex)}: a window cache keeps its batch size {keys.shape[0]}, got {batchIndex.shape[0]} rows", nameof(batchIndex));
        using var scope = torch.NewDisposeScope();
        keys.copy_(keys.index_select(0, batchIndex));
        values!.copy_(values.index_select(0, batchIndex));
    }

    /// <inheritdoc/>
    public override void Reset()
    {
        Seen = 0;
        positions?.fill_(-1L);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        keys?.Dispose(); values?.Dispose(); positions?.Dispose();
        keys = values = positions = null;
        Seen = 0;
    }
}
