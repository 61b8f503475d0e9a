using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Blockwise;

/// <summary>
/// The running state of an online softmax over blocks of keys, for a block of queries: the running maximum m
/// (B, H, bq, 1), the running sum ℓ of exp(s − m) (B, H, bq, 1) and the running unnormalized output
/// acc = Σ exp(s − m)·v (B, H, bq, Dv), all float32; and how many row updates and rescalings happened.
/// <see cref="OnlineSoftmax.Update"/> replaces its tensors (disposing the old ones); disposing it disposes them.
/// </summary>
public sealed class OnlineSoftmaxState : IDisposable
{
    /// <summary>m: the maximum the exponentials are taken against, (B, H, bq, 1); −∞ before any allowed key.</summary>
    public Tensor Max { get; internal set; }
    /// <summary>ℓ = Σ exp(s − m) over the keys seen, (B, H, bq, 1).</summary>
    public Tensor Sum { get; internal set; }
    /// <summary>acc = Σ exp(s − m)·v over the keys seen, (B, H, bq, Dv).</summary>
    public Tensor Accumulator { get; internal set; }
    /// <summary>Rows whose accumulator had to be rescaled (its m grew), summed over updates: an int64 scalar tensor.</summary>
    public Tensor RowsRescaled { get; internal set; }
    /// <summary>Rows updated, summed over updates (rows × key blocks).</summary>
    public long RowUpdates { get; internal set; }

    /// <summary>Wraps a state (the tensors are owned by it from now on).</summary>
    public OnlineSoftmaxState(Tensor max, Tensor sum, Tensor accumulator)
    {
        (Max, Sum, Accumulator) = (max, sum, accumulator);
        RowsRescaled = torch.zeros([], ScalarType.Int64, max.device);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Max.Dispose();
        Sum.Dispose();
        Accumulator.Dispose();
        RowsRescaled.Dispose();
    }
}

/// <summary>
/// The online softmax: softmax(s)·v computed one block of keys at a time, never holding a whole row of scores.
/// Milakov &amp; Gimelshein, "Online normalizer calculation for softmax", 2018 (arXiv 1805.02867); in the form of
/// Dao, "FlashAttention-2", 2023 (arXiv 2307.08691), Algorithm 1, which keeps the output unnormalized until the end;
/// with the conditional rescaling of Zadouri et al., "FlashAttention-4", 2026 (arXiv 2603.05451): the running maximum
/// is kept, and the accumulator left alone, until a new maximum exceeds it by more than a threshold τ. The result is
/// still exact, because ℓ and acc always share one m and only their ratio is used; exp(s − m) is then at most e^τ.
/// For a block of scores s (B, H, bq, bk) and values v (B, Hkv, bk, Dv):
/// 1. m_tile = max_j s_j;
/// 2. m_new = max(m, m_tile);
/// 3. FlashAttention-4: m_used = m if m is finite and m_new − m ≤ τ, else m_new (τ = 0 or none: always m_new);
/// 4. α = exp(m − m_used), the rescaling of what was accumulated (1 where m is kept);
/// 5. p = exp(s − m_used);
/// 6. ℓ ← α·ℓ + Σ_j p_j;
/// 7. acc ← α·acc + p·v;
/// and at the end (<see cref="OnlineSoftmax.Finish"/>): o = acc / ℓ, log-sum-exp = m + log ℓ.
/// </summary>
public static class OnlineSoftmax
{
    /// <summary>The empty state: m = −∞, ℓ = 0, acc = 0.</summary>
    public static OnlineSoftmaxState Start(long batch, long heads, long queries, long valueDim, Device device) =>
        new(torch.full([batch, heads, queries, 1], double.NegativeInfinity, ScalarType.Float32, device),
            torch.zeros([batch, heads, queries, 1], ScalarType.Float32, device),
            torch.zeros([batch, heads, queries, valueDim], ScalarType.Float32, device));

    /// <summary>
    /// Folds one block of scores (B, H, bq, bk) (−∞ where masked) and its values (B, Hkv, bk, Dv) into the state
    /// (steps 1–7); <paramref name="rescaleThreshold"/> is τ in nats (null: FlashAttention-2, rescale on every growth).
    /// </summary>
    public static void Update(OnlineSoftmaxState state, Tensor scores, Tensor values, double? rescaleThreshold = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(scores);
        ArgumentNullException.ThrowIfNull(values);
        using var scope = torch.NewDisposeScope();
        var m = state.Max;
        var mTile = scores.amax([-1], keepdim: true);                                     // 1. (B, H, bq, 1)
        var mNew = torch.maximum(m, mTile);                                               // 2.
        var mUsed = mNew;
        if (rescaleThreshold is double tau)                                               // 3.
            mUsed = torch.where(m.isfinite().logical_and((mNew - m).le(tau)), m, mNew);
        var baseM = torch.where(mUsed.isfinite(), mUsed, torch.zeros_like(mUsed));        // a row with no allowed key yet stays at 0
        var alpha = (m - baseM).exp();                                                    // 4. exp(−∞) = 0 on the first block
        var p = (scores - baseM).exp();                                                   // 5. (B, H, bq, bk)
        var sum = alpha * state.Sum + p.sum(-1, keepdim: true);                           // 6.
        var acc = alpha * state.Accumulator + AttentionTile.GroupedMatmul(p, values);     // 7. (B, H, bq, Dv)
        var rescaled = state.RowsRescaled + m.isfinite().logical_and(mUsed.gt(m)).sum();
        Core.TensorMemory.Sample();                                                       // the tile's largest live set
        var old = (state.Max, state.Sum, state.Accumulator, state.RowsRescaled);
        state.Max = mUsed.MoveToOuterDisposeScope();
        state.Sum = sum.MoveToOuterDisposeScope();
        state.Accumulator = acc.MoveToOuterDisposeScope();
        state.RowsRescaled = rescaled.MoveToOuterDisposeScope();
        state.RowUpdates += scores.shape[0] * scores.shape[1] * scores.shape[2];
        old.Item1.Dispose(); old.Item2.Dispose(); old.Item3.Dispose(); old.Item4.Dispose();
    }

    /// <summary>The output acc / ℓ (zeros where ℓ = 0) and its log-sum-exp m + log ℓ (−∞ where no key was allowed).</summary>
    public static PartialAttention Finish(OnlineSoftmaxState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        using var scope = torch.NewDisposeScope();
        var l = state.Sum;
        var o = state.Accumulator / torch.where(l.gt(0), l, torch.ones_like(l));         // (B, H, bq, Dv)
        var lse = (state.Max + l.log()).squeeze(-1);                                      // (B, H, bq); log 0 = −∞
        lse = torch.where(l.squeeze(-1).gt(0), lse, torch.full_like(lse, double.NegativeInfinity));
        return new PartialAttention(o, lse).MoveToOuterDisposeScope();
    }
}
