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
    /// <summary>Whether the shards, simulated on one device, ran each step side by side (stacked, one fused call per tile kind) rather than shard by shard.</summary>
    public bool SideBySide { get; }

    internal RingAttentionResult(Tensor output, ContextParallelWork? work, int skipped, double[] ms, IReadOnlyList<Transfer> transfers, bool sideBySide = false) =>
        (Output, Work, BlocksSkipped, StepMilliseconds, Transfers, SideBySide) = (output, work, skipped, ms, transfers, sideBySide);

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
/// (<see cref="FusedTile.RunPairs"/>), merged in place in the kernel's dtype, so the ring runs at kernel speed; forward
/// only. Shards simulated on one device then run each step side by side: their blocks stacked along the batch axis,
/// one call per tile for all the shards that compute it (whole tiles over consecutive runs joined into one call), the
/// key/value stack laid out twice so that the block each shard holds at a step is a view (the sends are logged, not
/// copied). Striped layouts keep the per-tile form (their runs are single tokens).
/// </summary>
public static class RingAttention
{
    /// <summary>Self-attention over the ring (steps 1–4): q (B, Hq, N, D), k and v (B, Hkv, N, ·), with N = layout.Tokens.</summary>
    public static RingAttentionResult Forward(Tensor q, Tensor k, Tensor v, ShardGroup group, SequenceLayout layout, BlockwiseOptions? options = null)
    {
        options ??= BlockwiseOptions.None;
        var scale = ValidateRing(q, k, v, group, layout, options);
        int p = group.Count;
        var positions = Enumerable.Range(0, p).Select(layout.Positions).ToArray();
        bool fused = options.FusedTiles && FusedTile.Supports(options) && positions.All(x => FusedTile.Runs(x).Count <= 8); // striped layouts: per-token runs, the teaching tile
        if (fused && group.Simulated && group.Devices.All(d => Kit.IsOn(q, d))
            && SimulatedPlan(positions, options.Mask?.Kind == MaskKind.Causal) is { } plan)
            return Simulated(q, k, v, group, layout, options, positions, plan, scale);
        return PerShard(q, k, v, group, layout, options, positions, fused, scale);
    }

    private static RingAttentionResult PerShard(Tensor q, Tensor k, Tensor v, ShardGroup group, SequenceLayout layout, BlockwiseOptions options, long[][] positions, bool fused, double scale)
    {
        int p = group.Count;
        int firstLog = group.Log.Count;
        using var scope = torch.NewDisposeScope();
        var qs = new Tensor[p]; var kCur = new Tensor[p]; var vCur = new Tensor[p]; var posCur = new int[p];
        var qPos = new Tensor[p]; var accO = new Tensor[p]; var accL = new Tensor[p];
        long[] shape = q.shape;
        var accType = fused ? q.dtype : ScalarType.Float32;                                 // fused tiles merge in the kernel's dtype
        for (int s = 0; s < p; s++)                                                         // 1.
        {
            var dev = group.Devices[s];
            qs[s] = layout.Take(q, s).to(dev);                                              // (B, Hq, N/P, D)
            kCur[s] = layout.Take(k, s).to(dev);                                            // (B, Hkv, N/P, D)
            vCur[s] = layout.Take(v, s).to(dev);
            posCur[s] = s;
            qPos[s] = torch.tensor(positions[s], ScalarType.Int64, dev);
            accO[s] = torch.zeros([shape[0], shape[1], positions[s].Length, v.shape[3]], accType, dev);
            accL[s] = torch.full([shape[0], shape[1], positions[s].Length], double.NegativeInfinity, ScalarType.Float32, dev);
        }
        bool causal = options.Mask?.Kind == MaskKind.Causal;
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
                if (fused) LogSumExpMerge.MergeInto(accO[s], accL[s], part.Output, part.LogSumExp);   //    in place: forward only
                else
                {
                    using var merged = LogSumExpMerge.Merge(new PartialAttention(accO[s], accL[s]), part); //    out of place: the teaching form backpropagates
                    accO[s].Dispose(); accL[s].Dispose();
                    (accO[s], accL[s]) = (merged.Output.alias(), merged.LogSumExp.alias());
                }
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
            ms[t] = Step(group, options, watch);
            TensorMemory.Sample();
        }
        var output = layout.Assemble(accO.Select(a => a.to(q.dtype)).ToList(), q.device); // 4. (B, Hq, N, Dv)
        var work = options.Mask is null || causal ? ContextParallelWork.Ring(layout, causal) : null;
        return new RingAttentionResult(output.MoveToOuterDisposeScope(), work, skipped, ms, group.Log.Skip(firstLog).ToList());
    }

    private static double Step(ShardGroup group, BlockwiseOptions options, Stopwatch watch)
    {
        if (!options.SynchronizeSteps) return double.NaN;
        group.Synchronize();
        return watch.Elapsed.TotalMilliseconds;
    }

    /// <summary>What one fused call of the simulated ring computes: consecutive query runs against consecutive key runs, causal (the diagonal) or whole.</summary>
    private readonly record struct Tile(int QueryRun, int QueryRuns, int KeyRun, int KeyRuns, bool Causal);

    /// <summary>Whole tiles that share their query runs and have consecutive key runs (or the reverse) become one call: zig-zag shards hold two runs each.</summary>
    private static Tile[] Coalesce(List<Tile> tiles)
    {
        static IEnumerable<(int First, int Count)> Spans(IEnumerable<int> xs)
        {
            var sorted = xs.Order().ToList();
            for (int i = 0; i < sorted.Count;)
            {
                int j = i + 1;
                while (j < sorted.Count && sorted[j] == sorted[j - 1] + 1) j++;
                yield return (sorted[i], j - i);
                i = j;
            }
        }
        var byKeys = tiles.Where(t => !t.Causal).GroupBy(t => t.QueryRun)
            .SelectMany(g => Spans(g.Select(t => t.KeyRun)).Select(k => new Tile(g.Key, 1, k.First, k.Count, false)));
        var whole = byKeys.GroupBy(t => (t.KeyRun, t.KeyRuns))
            .SelectMany(g => Spans(g.Select(t => t.QueryRun)).Select(r => new Tile(r.First, r.Count, g.Key.KeyRun, g.Key.KeyRuns, false)));
        return tiles.Where(t => t.Causal).Concat(whole).OrderBy(t => t.QueryRun).ThenBy(t => t.KeyRun).ToArray();
    }

    /// <summary>
    /// The tiles of each shard at each step [step][shard] when every shard's runs have the same lengths (contiguous,
    /// zig-zag) and every tile is hidden, whole or a diagonal; null otherwise (a tile the diagonal cuts needs the
    /// per-tile form, so the ring runs shard by shard).
    /// </summary>
    private static Tile[][][]? SimulatedPlan(long[][] positions, bool causal)
    {
        var runs = EvenRuns(positions);
        var lengths = runs[0].Select(r => r.Length).ToArray();
        if (runs.Any(r => !r.Select(x => x.Length).SequenceEqual(lengths))) return null;
        int p = positions.Length;
        var plan = new Tile[p][][];
        for (int t = 0; t < p; t++)
        {
            plan[t] = new Tile[p][];
            for (int s = 0; s < p; s++)
            {
                var kr = runs[((s - t) % p + p) % p];
                var tiles = new List<Tile>();
                for (int a = 0; a < runs[s].Count; a++)
                    for (int b = 0; b < kr.Count; b++)
                    {
                        var (q0, q1) = (runs[s][a].Start, runs[s][a].Start + runs[s][a].Length - 1);
                        var (k0, k1) = (kr[b].Start, kr[b].Start + kr[b].Length - 1);
                        if (causal && k0 > q1) continue;                                    // hidden
                        if (!causal || k1 <= q0) tiles.Add(new Tile(a, 1, b, 1, false));    // whole
                        else if (k0 == q0 && k1 == q1) tiles.Add(new Tile(a, 1, b, 1, true)); // the diagonal
                        else return null;                                                   // cut unevenly
                    }
                plan[t][s] = Coalesce(tiles);
            }
        }
        return plan;
    }

    /// <summary>
    /// Each shard's runs of consecutive positions, cut to the shortest run of any shard where every run is a multiple
    /// of it: a zig-zag shard whose two chunks meet in the middle of the sequence holds one run where the others hold
    /// two, and cut into its chunks it has the same tiles as the rest.
    /// </summary>
    private static List<(int Index, long Start, int Length)>[] EvenRuns(long[][] positions)
    {
        var runs = positions.Select(FusedTile.Runs).ToArray();
        int unit = runs.SelectMany(r => r).Min(r => r.Length);
        if (runs.SelectMany(r => r).Any(r => r.Length % unit != 0)) return runs;
        return runs.Select(r => r.SelectMany(x => Enumerable.Range(0, x.Length / unit).Select(i => (x.Index + i * unit, x.Start + i * unit, unit))).ToList()).ToArray();
    }

    /// <summary>
    /// Steps 1–4 with every simulated shard on one device, at kernel speed: the shards' blocks are stacked along the
    /// batch axis, (P·B, H, N/P, D), the key/value blocks twice, (2·P·B, Hkv, N/P, D), so that the blocks shards
    /// s0…s1−1 hold at step t (blocks s − t mod P) are rows P + s0 − t onwards, one view; step 3's sends are then
    /// logged per shard, not copied (on one device a copy would show nothing a view does not); at step 2 the shards that compute the same tiles (a contiguous range
    /// of shards, for contiguous and zig-zag layouts) do so in one fused call per tile, merged in place into their
    /// accumulators (<see cref="LogSumExpMerge.MergeInto"/>). What each shard computes is what it computes alone; a
    /// step's calls are the P shards' calls of that step run side by side, as on P devices.
    /// </summary>
    private static RingAttentionResult Simulated(Tensor q, Tensor k, Tensor v, ShardGroup group, SequenceLayout layout, BlockwiseOptions options, long[][] positions, Tile[][][] plan, double scale)
    {
        int p = group.Count;
        int firstLog = group.Log.Count;
        using var scope = torch.NewDisposeScope();
        long[] qs = q.shape, ks = k.shape;
        long b = qs[0], hq = qs[1], n = positions[0].Length, d = qs[3], hkv = ks[1], dv = v.shape[3];
        var order = positions.SelectMany(x => x).ToArray();                                 // every shard's positions, shard by shard
        bool inOrder = order.Select((x, i) => x == i).All(x => x);                          // contiguous shards: no gather, no scatter
        var all = inOrder ? null : torch.tensor(order, ScalarType.Int64, q.device);
        Tensor Stack(Tensor x, long h, long dim, int copies)                                // 1. (B, H, N, ·) → (copies·P·B, H, N/P, ·)
        {
            var byShard = (all is null ? x : x.index_select(2, all)).view(b, h, 1, p, n, dim);
            return byShard.expand(b, h, copies, p, n, dim).permute(2, 3, 0, 1, 4, 5).contiguous().view(copies * p * b, h, n, dim);
        }
        var qb = Stack(q, hq, d, 1);
        var kb = Stack(k, hkv, d, 2);                                                       //    key/value blocks laid out twice: shard s's block
        var vb = Stack(v, hkv, dv, 2);                                                      //    at step t, s − t mod P, is row P + s − t, a view
        var accO = torch.zeros([p * b, hq, n, dv], q.dtype, q.device);                     // (P·B, Hq, N/P, Dv)
        var accL = torch.full([p * b, hq, n], double.NegativeInfinity, ScalarType.Float32, q.device);
        var runs = EvenRuns(positions)[0];
        var started = new bool[p, runs.Count];
        long blockBytes = b * hkv * n * d * k.element_size();
        int skipped = 0;
        var ms = new double[p];
        var watch = new Stopwatch();
        bool causal = options.Mask?.Kind == MaskKind.Causal;
        for (int t = 0; t < p; t++)
        {
            watch.Restart();
            using var stepScope = torch.NewDisposeScope();
            for (int s0 = 0; s0 < p;)                                                       // 2. ranges of shards with the same tiles
            {
                int s1 = s0 + 1;
                while (s1 < p && plan[t][s1].SequenceEqual(plan[t][s0])) s1++;
                if (plan[t][s0].Length == 0) skipped += s1 - s0;
                foreach (var tile in plan[t][s0])
                {
                    (int Index, int Length) Span(int first, int count) => (runs[first].Index, runs[first + count - 1].Index + runs[first + count - 1].Length - runs[first].Index);
                    var (qr, kr) = (Span(tile.QueryRun, tile.QueryRuns), Span(tile.KeyRun, tile.KeyRuns));
                    Tensor Rows(Tensor x, int first, (int Index, int Length) span) => x.narrow(0, first * b, (s1 - s0) * b).narrow(2, span.Index, span.Length);
                    int held = p + s0 - t;                                                  //    the blocks shards s0…s1−1 hold at step t
                    var (o, l) = FusedKernels.LogSumExpUnchecked(Rows(qb, s0, qr), Rows(kb, held, kr), Rows(vb, held, kr), tile.Causal, scale, hq / hkv);
                    var (ao, al) = (Rows(accO, s0, qr), accL.narrow(0, s0 * b, (s1 - s0) * b).narrow(2, qr.Index, qr.Length));
                    bool none = true;
                    for (int s = s0; s < s1; s++)
                        for (int r = tile.QueryRun; r < tile.QueryRun + tile.QueryRuns; r++) none &= !started[s, r];
                    if (none) { ao.copy_(o); al.copy_(l); }
                    else FusedKernels.MergeInto(ao, al, o, l);                            //    an accumulator not started yet is empty: the merge copies
                    for (int s = s0; s < s1; s++)
                        for (int r = tile.QueryRun; r < tile.QueryRun + tile.QueryRuns; r++) started[s, r] = true;
                }
                s0 = s1;
            }
            if (t < p - 1)                                                                  // 3. the sends of the next step, logged per shard
                for (int s = 0; s < p; s++)
                {
                    group.Record(t, s, (s + 1) % p, blockBytes, "k block");
                    group.Record(t, s, (s + 1) % p, b * hkv * n * dv * v.element_size(), "v block");
                }
            ms[t] = Step(group, options, watch);
            TensorMemory.Sample();
        }
        var gathered = accO.view(p, b, hq, n, dv).permute(1, 2, 0, 3, 4).reshape(b, hq, p * n, dv); // 4. (B, Hq, N, Dv), shard by shard
        var output = all is null ? gathered : torch.empty([b, hq, layout.Tokens, dv], q.dtype, q.device).index_copy_(2, all, gathered);
        var work = options.Mask is null || causal ? ContextParallelWork.Ring(layout, causal) : null;
        return new RingAttentionResult(output.MoveToOuterDisposeScope(), work, skipped, ms, group.Log.Skip(firstLog).ToList(), sideBySide: true);
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
