namespace AttnKit.Attention.Parallel;

/// <summary>
/// Striped attention's layout. Brandon et al., "Striped Attention: Faster Ring Attention for Causal Transformers", 2023
/// (arXiv 2311.09431), §3: shard s holds tokens s, s + P, s + 2P, …, so under a causal mask every shard's queries see
/// about half of every other shard's keys at every ring step, instead of the contiguous split's all-or-nothing (the
/// last shard works at every step, the first almost never). Ring attention runs unchanged on it.
/// </summary>
public sealed class StripedLayout(long tokens, int shards) : SequenceLayout(tokens, shards, shards)
{
    /// <inheritdoc/>
    public override string Name => "striped";

    /// <inheritdoc/>
    public override long[] Positions(int shard)
    {
        CheckShard(shard);
        long n = Tokens / Shards;
        return Enumerable.Range(0, (int)n).Select(i => (long)i * Shards + shard).ToArray();
    }
}

/// <summary>
/// The zig-zag layout, the load-balanced split of Llama 3's context parallelism (Dubey et al., "The Llama 3 Herd of
/// Models", 2024, arXiv 2407.21783, §3.3) and of ring-flash-attention: the sequence is cut into 2P chunks and shard s
/// holds chunks s and 2P − 1 − s, an early chunk and a late one, so each shard has the same causal work in all.
/// </summary>
public sealed class ZigZagLayout(long tokens, int shards) : SequenceLayout(tokens, shards, 2L * shards)
{
    /// <inheritdoc/>
    public override string Name => "zig-zag";

    /// <inheritdoc/>
    public override long[] Positions(int shard)
    {
        CheckShard(shard);
        long c = Tokens / (2L * Shards);
        var first = Enumerable.Range(0, (int)c).Select(i => shard * c + i);
        var second = Enumerable.Range(0, (int)c).Select(i => (2L * Shards - 1 - shard) * c + i);
        return first.Concat(second).ToArray();
    }
}
