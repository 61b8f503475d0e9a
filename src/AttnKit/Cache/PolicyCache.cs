using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// An evicting cache: the score-then-keep core. Every row and KV head keeps its own tokens, with their original
/// positions (B, Hkv, L), so a kept token keeps its position and rows may hold different tokens.
/// 1. append the new tokens (keys stored rotated) and extend the scorer's per-slot state;
/// 2. the scorer observes the update (attention weights of the new queries, its state);
/// 3. return every held token: this update's queries read them all (prefill attention is full);
/// 4. compress when over budget (at prefill, and while decoding every <see cref="CacheBudget.Interval"/> tokens):
///    score, keep (<see cref="KeepSet"/>), and gather keys, values, positions and state.
/// </summary>
public sealed class PolicyCache : LayerCache
{
    private Tensor? keys, values, positions, valid;   // (B, Hkv, L, D), (B, Hkv, L, Dv), (B, Hkv, L) int64, (B, Hkv, L) bool or null
    private readonly Dictionary<string, (Tensor Value, double Fill)> state = new();
    private int step;
    private long prefillLength;

    /// <summary>A cache that keeps what <paramref name="scorer"/> ranks best under <paramref name="budget"/>.</summary>
    public PolicyCache(TokenScorer scorer, CacheBudget budget)
    {
        Scorer = scorer ?? throw new ArgumentNullException(nameof(scorer));
        ArgumentNullException.ThrowIfNull(budget);
        budget.Validate();
        Budget = budget;
    }

    /// <summary>A per-layer factory: a new scorer from <paramref name="scorer"/> for each layer, all with <paramref name="budget"/>.</summary>
    public static Func<int, LayerCache> Factory(Func<int, TokenScorer> scorer, CacheBudget budget) => layer => new PolicyCache(scorer(layer), budget);

    /// <summary>A per-layer factory with a budget per layer (e.g. <see cref="Policies.PyramidKv.Budgets(int, CacheBudget, double)"/>).</summary>
    public static Func<int, LayerCache> Factory(Func<int, TokenScorer> scorer, IReadOnlyList<CacheBudget> perLayer) => layer => new PolicyCache(scorer(layer), perLayer[layer]);

    /// <summary>The scorer.</summary>
    public TokenScorer Scorer { get; }
    /// <summary>The budget.</summary>
    public CacheBudget Budget { get; }
    /// <summary>Evictions so far.</summary>
    public int Compressions { get; private set; }

    /// <inheritdoc/>
    public override long Length => keys?.shape[2] ?? 0;

    /// <inheritdoc/>
    public override long StorageBytes => keys is null ? 0 : keys.NumberOfElements * keys.ElementSize + values!.NumberOfElements * values.ElementSize;

    /// <summary>Original positions of the held tokens (B, Hkv, L), a copy; null when empty.</summary>
    public Tensor? HeldPositions() => positions?.clone();

    /// <summary>Which held slots are real (B, Hkv, L), a copy; null when all are.</summary>
    public Tensor? HeldValid() => valid?.clone();

    /// <inheritdoc/>
    public override CacheView Update(CacheUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        CacheChecks.Update(update, keys, values);
        long n = update.Keys.shape[2];
        long b = update.Keys.shape[0], h = update.Keys.shape[1];
        using var scope = torch.NewDisposeScope();
        var newPos = update.Positions.to(ScalarType.Int64).view(1, 1, n).expand(b, h, n);                      // (B, Hkv, n)
        Replace(ref keys, keys is null ? update.Keys.clone() : torch.cat([keys, update.Keys], 2));             // 1.
        Replace(ref values, values is null ? update.Values.clone() : torch.cat([values, update.Values], 2));
        Replace(ref positions, positions is null ? newPos.contiguous() : torch.cat([positions, newPos], 2));
        if (valid is not null) Replace(ref valid, torch.cat([valid, torch.ones([b, h, n], ScalarType.Bool, valid.device)], 2));
        foreach (var name in state.Keys.ToList())
        {
            var (t, fill) = state[name];
            state[name] = (torch.cat([t, torch.full([b, h, n], fill, ScalarType.Float32, t.device)], 2).DetachFromDisposeScope(), fill);
            t.Dispose();
        }
        Seen += n;
        if (step == 0) prefillLength = n;
        using var context = new PolicyContext(keys!, values!, positions!, valid, update.Queries, update.Positions, Seen, prefillLength, step, state);
        Scorer.Observe(context);                                                                               // 2.
        var view = new CacheView(keys!.alias().MoveToOuterDisposeScope(), values!.alias().MoveToOuterDisposeScope(),  // 3.
            positions!.alias().MoveToOuterDisposeScope(), valid?.alias().MoveToOuterDisposeScope());
        var keep = KeepCounts(context, h);
        bool over = Length > keep.Max();
        bool compress = step == 0
            ? Budget.Prefill && over
            : Budget.Decoding && Length >= keep.Max() + Budget.Interval;
        if (compress || Scorer.Expires) Compress(context, keep);                                               // 4.
        step++;
        return view;
    }

    private int[] KeepCounts(PolicyContext context, long heads)
    {
        int[] perHead = Budget.HeadTokens is { } ht ? ht.ToArray() : [Budget.Tokens];
        if (Budget.HeadTokens is { } x && x.Count != heads)
            throw new ArgumentException($"budget.HeadTokens: expected one budget per KV head ({heads}), got {x.Count}");
        if (context.IsPrefill && Budget.PrefillTokens is int p) return [p];
        if (Budget.ProtectPrompt && !context.IsPrefill)
        {
            using var s = torch.NewDisposeScope();
            var prompt = positions!.lt(prefillLength);
            if (valid is not null) prompt = prompt.logical_and(valid);
            int held = (int)prompt.sum(-1).max().item<long>();
            return perHead.Select(t => t + held).ToArray();
        }
        return perHead;
    }

    private void Compress(PolicyContext context, int[] keep)
    {
        var scores = Scorer.Score(context);                                                                    // 4.
        Check.Rank(scores, 3, $"{Scorer.Name}.Score", "(B, Hkv, L)");
        Check.Dim(scores, 2, Length, $"{Scorer.Name}.Score", "one score per held slot");
        long protect = Budget.ProtectPrompt && !context.IsPrefill ? prefillLength : 0;
        var mask = KeepSet.Mask(scores, positions!, valid, Seen, keep, Budget.Sinks, Budget.Window, Scorer.Expired(context), protect);
        var (index, real) = KeepSet.Compact(mask);                                                             // (B, Hkv, K)
        long dk = keys!.shape[3], dv = values!.shape[3];
        Replace(ref keys, keys.gather(2, index.unsqueeze(-1).expand(-1, -1, -1, dk)));
        Replace(ref values, values.gather(2, index.unsqueeze(-1).expand(-1, -1, -1, dv)));
        Replace(ref positions, positions!.gather(2, index));
        var wasValid = valid?.gather(2, index);
        var nowValid = real is null ? wasValid : wasValid is null ? real : real.logical_and(wasValid);
        if (nowValid is null) { valid?.Dispose(); valid = null; }
        else Replace(ref valid, nowValid);
        foreach (var name in state.Keys.ToList())
        {
            var (t, fill) = state[name];
            state[name] = (t.gather(2, index).DetachFromDisposeScope(), fill);
            t.Dispose();
        }
        Compressions++;
    }

    private static void Replace(ref Tensor? field, Tensor next)
    {
        var old = field;
        field = next.DetachFromDisposeScope();
        if (old is not null && !ReferenceEquals(old, field)) old.Dispose();
    }

    /// <inheritdoc/>
    public override void Crop(long length)
    {
        CheckCrop(length);
        if (keys is null) { Seen = length; return; }
        using var scope = torch.NewDisposeScope();
        var keepMask = positions!.lt(length);
        if (valid is not null) keepMask = keepMask.logical_and(valid);
        var (index, real) = KeepSet.Compact(keepMask);
        long dk = keys.shape[3], dv = values!.shape[3];
        Replace(ref keys, keys.gather(2, index.unsqueeze(-1).expand(-1, -1, -1, dk)));
        Replace(ref values, values.gather(2, index.unsqueeze(-1).expand(-1, -1, -1, dv)));
        Replace(ref positions, positions.gather(2, index));
        var any = keepMask.gather(2, index);
        if (real is null && any.all().item<bool>()) { valid?.Dispose(); valid = null; } else Replace(ref valid, any);
        foreach (var name in state.Keys.ToList())
        {
            var (t, fill) = state[name];
            state[name] = (t.gather(2, index).DetachFromDisposeScope(), fill);
            t.Dispose();
        }
        Seen = length;
    }

    /// <inheritdoc/>
    public override void Reorder(Tensor batchIndex)
    {
        if (keys is null) return;
        CheckReorder(batchIndex, keys.shape[0], keys.device);
        using var scope = torch.NewDisposeScope();
        Replace(ref keys, keys.index_select(0, batchIndex));
        Replace(ref values, values!.index_select(0, batchIndex));
        Replace(ref positions, positions!.index_select(0, batchIndex));
        if (valid is not null) Replace(ref valid, valid.index_select(0, batchIndex));
        foreach (var name in state.Keys.ToList())
        {
            var (t, fill) = state[name];
            state[name] = (t.index_select(0, batchIndex).DetachFromDisposeScope(), fill);
            t.Dispose();
        }
    }

    /// <inheritdoc/>
    public override void Reset()
    {
        keys?.Dispose(); values?.Dispose(); positions?.Dispose(); valid?.Dispose();
        keys = values = positions = valid = null;
        foreach (var (t, _) in state.Values) t.Dispose();
        state.Clear();
        Scorer.Reset();
        Seen = 0; step = 0; prefillLength = 0; Compressions = 0;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Reset();
}
