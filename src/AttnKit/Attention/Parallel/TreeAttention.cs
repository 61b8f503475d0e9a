using AttnKit.Attention.Blockwise;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Parallel;

/// <summary>How the shards' partial attentions are combined.</summary>
public enum Reduction
{
    /// <summary>Pairwise, in ⌈log₂ P⌉ rounds (Tree Attention).</summary>
    Tree,
    /// <summary>Along a chain, shard P−1 to shard 0, in P − 1 rounds (what a ring does).</summary>
    Chain,
}

/// <summary>The result of a sharded decoding step: the output at shard 0 and what was sent.</summary>
public sealed class TreeDecodeResult : IDisposable
{
    /// <summary>(B, Hq, Nq, Dv) on q's device, q's dtype.</summary>
    public Tensor Output { get; }
    /// <summary>What was sent, step by step (step 0 is the query broadcast).</summary>
    public IReadOnlyList<Transfer> Transfers { get; }
    /// <summary>Communication rounds: the broadcast plus the reduction's rounds.</summary>
    public int Steps => Transfers.Select(t => t.Step).Distinct().Count();

    internal TreeDecodeResult(Tensor output, IReadOnlyList<Transfer> transfers) => (Output, Transfers) = (output, transfers);

    /// <inheritdoc/>
    public void Dispose() => Output.Dispose();
}

/// <summary>
/// Tree attention for decoding. Shyam et al., "Tree Attention: Topology-aware Decoding for Long-Context Attention on GPU
/// clusters", 2024 (arXiv 2408.04093), §4–5. The key/value cache is split over P shards; each shard attends the (few)
/// new queries to its own part, and the parts are combined by a reduction along the sequence axis. Because the
/// log-sum-exp merge is associative, the reduction can be a tree: ⌈log₂ P⌉ rounds, each moving only the small partial
/// results (output and log-sum-exp per query), instead of the P − 1 rounds of passing them around a ring. The paper
/// derives the same reduction as the gradient of a scalar energy and runs it as an all-reduce.
/// 1. shard s holds keys and values s·⌈N/P⌉ … (s+1)·⌈N/P⌉ − 1;
/// 2. shard 0 sends the queries to every other shard (one broadcast step);
/// 3. every shard computes the partial attention of the queries over its keys (o_s, ℓ_s);
/// 4. Tree: in round r = 0, 1, …, shard s with s mod 2^(r+1) = 0 receives the partial of shard s + 2^r and merges it;
///    Chain: shard s + 1 sends its running partial to shard s, for s = P − 2 down to 0;
/// 5. shard 0 holds the result.
/// </summary>
public static class TreeAttention
{
    /// <summary>One decoding step over a sharded cache: q (B, Hq, Nq, D) the new tokens, k and v (B, Hkv, Nk, ·) the cache.</summary>
    public static TreeDecodeResult Decode(Tensor q, Tensor k, Tensor v, ShardGroup group, BlockwiseOptions? options = null, Reduction reduction = Reduction.Tree)
    {
        ArgumentNullException.ThrowIfNull(group);
        options ??= BlockwiseOptions.None;
        var (_, offset, scale) = FlashAttention.Validate(q, k, v, options);
        if (!Enum.IsDefined(reduction)) throw new ArgumentException($"{nameof(reduction)}: expected Tree or Chain, got {reduction}", nameof(reduction));
        int p = group.Count;
        long nk = k.shape[2], chunk = (nk + p - 1) / p;
        if (chunk * (p - 1) >= nk) throw new ArgumentException($"group: {p} shards leave some without keys for a cache of {nk}; use at most {Math.Max(1, (nk + chunk - 1) / chunk)} shards or a longer cache", nameof(group));
        int firstLog = group.Log.Count;
        using var scope = torch.NewDisposeScope();
        var parts = new PartialAttention[p];
        var qPos0 = AttentionTile.Range(offset, q.shape[2], q.device);
        var q0 = q.to(group.Devices[0]);
        for (int s = 0; s < p; s++)
        {
            var dev = group.Devices[s];
            long start = s * chunk, len = Math.Min(chunk, nk - start);
            var ks = k.narrow(2, start, len).to(dev);                                       // 1. (B, Hkv, N/P, D)
            var vs = v.narrow(2, start, len).to(dev);
            var qs = s == 0 ? q0 : group.Send(q0, 0, s, 0, "queries");                       // 2.
            parts[s] = AttentionTile.PartialUnchecked(qs, ks, vs, qPos0.to(dev), AttentionTile.Range(start, len, dev), options.Mask, options.ScoreMod, scale); // 3.
        }
        int step = 1;
        if (reduction == Reduction.Tree)                                                    // 4.
        {
            for (int stride = 1; stride < p; stride *= 2, step++)
                for (int s = 0; s + stride < p; s += 2 * stride)
                    parts[s] = Receive(group, parts, s + stride, s, step);
        }
        else
        {
            for (int s = p - 2; s >= 0; s--, step++)
                parts[s] = Receive(group, parts, s + 1, s, step);
        }
        var output = parts[0].Output.to(q.dtype).to(q.device);                               // 5.
        return new TreeDecodeResult(output.MoveToOuterDisposeScope(), group.Log.Skip(firstLog).ToList());
    }

    private static PartialAttention Receive(ShardGroup group, PartialAttention[] parts, int from, int to, int step)
    {
        var o = group.Send(parts[from].Output, from, to, step, "partial output");
        var l = group.Send(parts[from].LogSumExp, from, to, step, "log-sum-exp");
        return LogSumExpMerge.Merge(parts[to], new PartialAttention(o, l));
    }
}
