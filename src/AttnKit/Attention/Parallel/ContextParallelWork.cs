using AttnKit.Core;

namespace AttnKit.Attention.Parallel;

/// <summary>
/// Where the work of ring attention goes: for each shard and ring step, the (query, key) pairs the mask allows between
/// the shard's queries and the key/value block it holds at that step. Counted exactly from the layout's positions, with
/// no tensors, so it scales to the sizes of the papers. A step lasts as long as its busiest shard, so
/// <see cref="StepCost"/> is the per-step maximum and <see cref="Efficiency"/> the useful share of P × Σ steps.
/// This is the load-balance analysis of the Long-Context Attention Benchmark (arXiv 2510.17896, §4, context
/// parallelism under causal masks) and the reason for <see cref="StripedLayout"/> and <see cref="ZigZagLayout"/>.
/// </summary>
public sealed class ContextParallelWork
{
    /// <summary>Pairs computed by shard s at ring step t: [s, t]. At step t, shard s holds the key/value block of shard (s − t) mod P.</summary>
    public long[,] Pairs { get; }
    /// <summary>The layout.</summary>
    public SequenceLayout Layout { get; }
    /// <summary>Whether the mask is causal (else every pair counts).</summary>
    public bool Causal { get; }

    private ContextParallelWork(SequenceLayout layout, bool causal, long[,] pairs) => (Layout, Causal, Pairs) = (layout, causal, pairs);

    /// <summary>Counts the work of a ring over <paramref name="layout"/>, causal or not.</summary>
    public static ContextParallelWork Ring(SequenceLayout layout, bool causal)
    {
        ArgumentNullException.ThrowIfNull(layout);
        int p = layout.Shards;
        var positions = Enumerable.Range(0, p).Select(layout.Positions).ToArray();
        var pairs = new long[p, p];
        for (int s = 0; s < p; s++)
            for (int t = 0; t < p; t++)
                pairs[s, t] = PairCount(positions[s], positions[((s - t) % p + p) % p], causal);
        return new ContextParallelWork(layout, causal, pairs);
    }

    /// <summary>
    /// For every (query, key) position pair, the ring step at which the shard holding the query computes it: step
    /// (owner(query) − owner(key)) mod P; −1 where a causal mask forbids the pair. A picture of the ring, for small N.
    /// </summary>
    public static int[,] StepMap(SequenceLayout layout, bool causal)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (layout.Tokens > 4096) throw new ArgumentException($"{nameof(layout)}: the map has N² entries; expected N ≤ 4096, got {layout.Tokens}", nameof(layout));
        int p = layout.Shards;
        var owner = new int[layout.Tokens];
        for (int s = 0; s < p; s++) foreach (var pos in layout.Positions(s)) owner[pos] = s;
        var map = new int[layout.Tokens, layout.Tokens];
        for (long q = 0; q < layout.Tokens; q++)
            for (long k = 0; k < layout.Tokens; k++)
                map[q, k] = causal && k > q ? -1 : ((owner[q] - owner[k]) % p + p) % p;
        return map;
    }

    /// <summary>Allowed pairs between queries at <paramref name="queries"/> and keys at <paramref name="keys"/> (both increasing): all, or causal (query ≥ key).</summary>
    public static long PairCount(long[] queries, long[] keys, bool causal)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentNullException.ThrowIfNull(keys);
        if (!causal) return (long)queries.Length * keys.Length;
        long count = 0;
        int i = 0;                                                          // both increasing: one merge-like sweep
        foreach (var k in keys)
        {
            while (i < queries.Length && queries[i] < k) i++;
            count += queries.Length - i;                                    // queries at or after the key
        }
        return count;
    }

    /// <summary>The busiest shard's pairs at each step.</summary>
    public long[] StepCost => Enumerable.Range(0, Layout.Shards).Select(t => Enumerable.Range(0, Layout.Shards).Max(s => Pairs[s, t])).ToArray();

    /// <summary>All pairs computed.</summary>
    public long Total => Pairs.Cast<long>().Sum();

    /// <summary>Total / (P × Σ step costs): 1 when every shard is busy at every step.</summary>
    public double Efficiency => Total == 0 ? 1 : Total / ((double)Layout.Shards * StepCost.Sum());

    /// <summary>Pairs per shard, summed over steps.</summary>
    public long[] PerShard => Enumerable.Range(0, Layout.Shards).Select(s => Enumerable.Range(0, Layout.Shards).Sum(t => Pairs[s, t])).ToArray();
}
