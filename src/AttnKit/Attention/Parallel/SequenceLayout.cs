using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Parallel;

/// <summary>
/// Which tokens of a sequence each of P shards holds. Context-parallel attention splits q, k and v along the tokens
/// with one layout; each shard keeps the absolute positions of its tokens, so causal and other masks stay exact.
/// <see cref="ContiguousLayout"/> gives shard s the s-th contiguous block; <see cref="StripedLayout"/> and
/// <see cref="ZigZagLayout"/> interleave tokens so that a causal mask gives every shard about the same work.
/// </summary>
public abstract class SequenceLayout
{
    /// <summary>N, the tokens of the whole sequence.</summary>
    public long Tokens { get; }
    /// <summary>P, the shards.</summary>
    public int Shards { get; }

    /// <summary>Checks N and P (N must be a multiple of <paramref name="multipleOf"/>).</summary>
    protected SequenceLayout(long tokens, int shards, long multipleOf)
    {
        Check.Positive(tokens, nameof(tokens));
        Check.Positive(shards, nameof(shards));
        if (tokens % multipleOf != 0) throw new ArgumentException($"{nameof(tokens)}: this layout needs N to be a multiple of {multipleOf} for {shards} shards, got N = {tokens}", nameof(tokens));
        (Tokens, Shards) = (tokens, shards);
    }

    /// <summary>A short name: "contiguous", "striped", "zig-zag".</summary>
    public abstract string Name { get; }

    /// <summary>The absolute positions shard <paramref name="shard"/> holds, in increasing order.</summary>
    public abstract long[] Positions(int shard);

    /// <summary>Shard <paramref name="shard"/>'s tokens of <paramref name="x"/> (B, H, N, D) → (B, H, N/P, D), on x's device.</summary>
    public Tensor Take(Tensor x, int shard)
    {
        Check.Rank(x, 4, nameof(x), "(B, H, N, D)");
        Check.Dim(x, 2, Tokens, nameof(x), "tokens N of the layout");
        CheckShard(shard);
        using var scope = torch.NewDisposeScope();
        var index = torch.tensor(Positions(shard), ScalarType.Int64, x.device);
        return x.index_select(2, index).MoveToOuterDisposeScope();                        // (B, H, N/P, D)
    }

    /// <summary>Puts each shard's rows (B, H, N/P, D) back at their positions: (B, H, N, D) on <paramref name="device"/>.</summary>
    public Tensor Assemble(IReadOnlyList<Tensor> parts, Device device)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count != Shards) throw new ArgumentException($"{nameof(parts)}: expected one part per shard ({Shards}), got {parts.Count}", nameof(parts));
        using var scope = torch.NewDisposeScope();
        long[] s = parts[0].shape;
        var full = torch.zeros([s[0], s[1], Tokens, s[3]], parts[0].dtype, device);       // (B, H, N, D)
        for (int p = 0; p < Shards; p++)
            full.index_copy_(2, torch.tensor(Positions(p), ScalarType.Int64, device), parts[p].to(device));
        return full.MoveToOuterDisposeScope();
    }

    /// <summary>Throws unless 0 ≤ shard &lt; P.</summary>
    protected void CheckShard(int shard)
    {
        if (shard < 0 || shard >= Shards) throw new ArgumentException($"shard: expected 0..{Shards - 1}, got {shard}", nameof(shard));
    }
}

/// <summary>Shard s holds tokens s·N/P … (s+1)·N/P − 1: the split of Ring Attention (Liu et al., 2023, arXiv 2310.01889) and of Ring Self-Attention.</summary>
public sealed class ContiguousLayout(long tokens, int shards) : SequenceLayout(tokens, shards, shards)
{
    /// <inheritdoc/>
    public override string Name => "contiguous";

    /// <inheritdoc/>
    public override long[] Positions(int shard)
    {
        CheckShard(shard);
        long n = Tokens / Shards;
        return Enumerable.Range(0, (int)n).Select(i => shard * n + i).ToArray();
    }
}
