using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.ScoreMods;

/// <summary>
/// A learned relative position bias: one scalar per head and per bucket of relative distance, added to the scores.
/// Raffel et al., "Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer" (T5), 2019
/// (arXiv 1910.10683), section 2.1, building on Shaw et al., "Self-Attention with Relative Position
/// Representations", 2018 (arXiv 1803.02155).
///
/// 1. relative distance r = key − query;
/// 2. bucket: half the buckets (bidirectional) or all of them (causal) are exact for small |r|, the rest cover
///    |r| up to <c>maxDistance</c> on a logarithmic scale, and anything farther shares the last bucket;
///    bidirectional buckets keep keys after the query apart from keys before it;
/// 3. score(i, j) ← score(i, j) + table[bucket(j − i), h], where the table (buckets, H) is learned.
/// </summary>
public sealed class RelativePositionBias : nn.Module
{
    private readonly Parameter _table;

    /// <summary>Number of query heads.</summary>
    public int Heads { get; }
    /// <summary>Number of distance buckets.</summary>
    public int Buckets { get; }
    /// <summary>Distance at which the last bucket starts.</summary>
    public int MaxDistance { get; }
    /// <summary>Whether keys after the query get their own buckets.</summary>
    public bool Bidirectional { get; }

    /// <summary>The learned table (buckets, heads).</summary>
    public Parameter Table => _table;

    /// <summary>Creates the bias with a zero-initialised table (so it starts as a no-op).</summary>
    public RelativePositionBias(int heads, int buckets = 32, int maxDistance = 128, bool bidirectional = false, Device? device = null) : base(nameof(RelativePositionBias))
    {
        Check.Positive(heads, nameof(heads));
        Check.Positive(buckets, nameof(buckets));
        if (bidirectional && buckets < 4) throw new ArgumentException($"{nameof(buckets)}: expected at least 4 for bidirectional buckets, got {buckets}", nameof(buckets));
        if (!bidirectional && buckets < 2) throw new ArgumentException($"{nameof(buckets)}: expected at least 2, got {buckets}", nameof(buckets));
        int exact = (bidirectional ? buckets / 2 : buckets) / 2;
        if (maxDistance <= exact) throw new ArgumentException($"{nameof(maxDistance)}: expected more than the {exact} exact buckets, got {maxDistance}", nameof(maxDistance));
        (Heads, Buckets, MaxDistance, Bidirectional) = (heads, buckets, maxDistance, bidirectional);
        _table = new Parameter(torch.zeros(buckets, heads, device: device ?? Kit.Device));
        RegisterComponents();
    }

    /// <summary>Step 2: the bucket (int64) of each relative distance key − query.</summary>
    public Tensor Bucket(Tensor relative)
    {
        Check.NotNull(relative, nameof(relative));
        using var scope = torch.NewDisposeScope();
        int n = Bucketed;
        var bucket = torch.zeros_like(relative, ScalarType.Int64);
        Tensor distance;
        if (Bidirectional)
        {
            bucket = bucket + relative.gt(0).to(ScalarType.Int64) * n; // keys after the query: upper half
            distance = relative.abs();
        }
        else
        {
            distance = (-relative).clamp_min(0);                        // only keys at or before the query matter
        }
        int exact = n / 2;
        var isSmall = distance.lt(exact);
        var far = distance.to(ScalarType.Float32).clamp_min(1) / exact;
        var large = (far.log() / Math.Log((double)MaxDistance / exact) * (n - exact)).to(ScalarType.Int64) + exact;
        large = large.clamp_max(n - 1);
        return (bucket + torch.where(isSmall, distance, large)).MoveToOuterDisposeScope();
    }

    private int Bucketed => Bidirectional ? Buckets / 2 : Buckets;

    /// <summary>Step 3: the bias (1, H, Nq, Nk) for queries at absolute positions <paramref name="queryPositions"/> and keys at <paramref name="keyPositions"/>.</summary>
    public Tensor Bias(Tensor queryPositions, Tensor keyPositions)
    {
        using var scope = torch.NewDisposeScope();
        var rel = keyPositions.view(1, -1) - queryPositions.view(-1, 1);   // (Nq, Nk)
        var bias = _table[Bucket(rel)];                                    // (Nq, Nk, H)
        return bias.permute(2, 0, 1).unsqueeze(0).MoveToOuterDisposeScope(); // (1, H, Nq, Nk)
    }

    /// <summary>The bias as a score modifier; gradients flow into <see cref="Table"/>.</summary>
    public ScoreModifier Modifier => new($"relative-bias(H={Heads}, buckets={Buckets})", (score, b, h, q, k) =>
    {
        if (score.shape[1] != Heads) throw new ArgumentException($"relative-bias: has {Heads} heads, but the scores have {score.shape[1]}");
        return score + Bias(q.flatten(), k.flatten()).to(score.dtype);
    });
}
