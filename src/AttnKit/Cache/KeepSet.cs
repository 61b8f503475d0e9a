using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// The one keep rule every eviction policy shares (as kvpress's presses do): given a score per (batch, KV head, token),
/// keep the always-kept tokens and then the best-scored ones up to the budget.
/// 1. always-kept: positions below the sinks, in the recent window, or protected (the prompt); they score +∞;
/// 2. expired tokens (a policy's lifetime rule) and invalid slots score −∞ and are never kept;
/// 3. per (row, head): the top-k slots by score, k the head's budget;
/// 4. compaction: the kept slots of each row, in slot order, padded to the longest row with invalid slots.
/// </summary>
public static class KeepSet
{
    /// <summary>
    /// Steps 1–3: the kept slots (B, H, L) bool. <paramref name="scores"/> (B, H, L) float, higher keeps;
    /// <paramref name="positions"/> (B, H, L) int64; <paramref name="valid"/> and <paramref name="expired"/> (B, H, L) bool or null;
    /// <paramref name="keep"/> per head (length H) or one for all; <paramref name="protectBelow"/>: positions below it are always kept.
    /// </summary>
    public static Tensor Mask(Tensor scores, Tensor positions, Tensor? valid, long seen, IReadOnlyList<int> keep, int sinks = 0, int window = 0,
        Tensor? expired = null, long protectBelow = 0)
    {
        Check.Rank(scores, 3, nameof(scores), "(B, H, L)");
        Check.FloatingPoint(scores, nameof(scores));
        Check.Rank(positions, 3, nameof(positions), "(B, H, L)");
        Check.BroadcastsTo(positions, scores.shape, nameof(positions), "(B, H, L)");
        if (valid is not null) { Check.Bool(valid, nameof(valid)); Check.BroadcastsTo(valid, scores.shape, nameof(valid), "(B, H, L)"); }
        if (expired is not null) { Check.Bool(expired, nameof(expired)); Check.BroadcastsTo(expired, scores.shape, nameof(expired), "(B, H, L)"); }
        ArgumentNullException.ThrowIfNull(keep);
        long b = scores.shape[0], h = scores.shape[1], l = scores.shape[2];
        if (keep.Count != 1 && keep.Count != h)
            throw new ArgumentException($"{nameof(keep)}: expected one budget or one per head ({h}), got {keep.Count}", nameof(keep));
        if (keep.Any(k => k < 0)) throw new ArgumentException($"{nameof(keep)}: budgets must be non-negative", nameof(keep));
        using var scope = torch.NewDisposeScope();
        var always = positions.lt(sinks).logical_or(positions.ge(seen - window)).logical_or(positions.lt(protectBelow)); // 1.
        var s = scores.to(ScalarType.Float32).masked_fill(always, float.PositiveInfinity);
        var dead = valid is null ? torch.zeros_like(always) : valid.logical_not();
        if (expired is not null) dead = dead.logical_or(expired.logical_and(always.logical_not()));
        s = s.masked_fill(dead, float.NegativeInfinity);                                                 // 2.
        long kmax = Math.Min(l, keep.Max());
        var mask = torch.zeros([b, h, l], ScalarType.Bool, scores.device);
        if (kmax == 0) return mask.MoveToOuterDisposeScope();
        var top = s.topk((int)kmax, -1).indexes;                                                          // 3. (B, H, kmax)
        var budgets = torch.tensor(keep.Count == 1 ? Enumerable.Repeat(keep[0], (int)h).Select(x => (long)x).ToArray() : keep.Select(x => (long)x).ToArray(), ScalarType.Int64, scores.device);
        var inBudget = torch.arange(kmax, ScalarType.Int64, scores.device).view(1, 1, kmax).lt(budgets.view(1, h, 1)).expand(b, h, kmax);
        mask = mask.scatter(-1, top, inBudget);
        mask = mask.logical_and(dead.logical_not());
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>Step 4: for a kept mask (B, H, L), the slot index (B, H, K) of each kept token in slot order, and which are real (null when every row keeps K).</summary>
    public static (Tensor Index, Tensor? Valid) Compact(Tensor keep)
    {
        Check.Rank(keep, 3, nameof(keep), "(B, H, L)");
        Check.Bool(keep, nameof(keep));
        using var scope = torch.NewDisposeScope();
        long l = keep.shape[2];
        var counts = keep.sum(-1);                                                                        // (B, H)
        long kmax = Math.Max(1, counts.max().item<long>());
        bool ragged = counts.min().item<long>() != kmax;
        var slot = torch.arange(l, ScalarType.Int64, keep.device).view(1, 1, l);
        var key = torch.where(keep, slot, slot + l);                                                      // kept first, in slot order
        var sorted = key.sort(-1).Values.narrow(2, 0, kmax);                                              // (B, H, K)
        var real = sorted.lt(l);
        var index = torch.where(real, sorted, sorted - l);
        return (index.MoveToOuterDisposeScope(), ragged ? real.MoveToOuterDisposeScope() : null);
    }
}
