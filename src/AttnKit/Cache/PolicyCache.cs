using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// An evicting cache: the score-then-keep core. Every row and KV head keeps its own tokens, with their original
/// positions (B, Hkv, L), so a kept token keeps its position and rows may hold different tokens.
/// 1. append the new tokens (keys stored rotated) and extend the scorer's per-slot state, in place: the storage keeps
///    room for <see cref="CacheBudget.Interval"/> more tokens, so a decoding step writes slots instead of copying the cache;
/// 2. the scorer observes the update (attention weights of the new queries, its state);
/// 3. return every held token: this update's queries read them all (prefill attention is full);
/// 4. compress when over budget (at prefill, and while decoding every <see cref="CacheBudget.Interval"/> tokens):
///    score, keep (<see cref="KeepSet"/>), and gather keys, values, positions and state into the first slots.
/// <see cref="StorageBytes"/> counts the held tokens (what the policy's budget is about), not that headroom.
/// </summary>
public sealed class PolicyCache : LayerCache
{
    private readonly SlotBuffer keys = new(), values = new(), positions = new();   // (B, Hkv, L, D), (B, Hkv, L, Dv), (B, Hkv, L) int64
    private SlotBuffer? valid;                                                      // (B, Hkv, L) bool; null while every slot is real
    private readonly Dictionary<string, (SlotBuffer Slots, double Fill)> state = new();
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
    public override long Length => keys.Length;

    /// <summary>Bytes of the held keys and values (the storage's headroom of <see cref="CacheBudget.Interval"/> slots is not counted).</summary>
    public override long StorageBytes => keys.HeldBytes + values.HeldBytes;

    /// <summary>Original positions of the held tokens (B, Hkv, L), a copy; null when empty.</summary>
    public Tensor? HeldPositions() => positions.Allocated ? positions.View.clone() : null;

    /// <summary>Which held slots are real (B, Hkv, L), a copy; null when all are.</summary>
    public Tensor? HeldValid() => valid?.View.clone();

    private long Headroom => Budget.Interval + 1;

    /// <inheritdoc/>
    public override CacheView Update(CacheUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        using var scope = torch.NewDisposeScope();
        CacheChecks.Update(update, keys.Allocated ? keys.View : null, values.Allocated ? values.View : null);
        long n = update.Keys.shape[2];
        long b = update.Keys.shape[0], h = update.Keys.shape[1];
        var dev = update.Keys.device;
        var newPos = update.Positions.to(ScalarType.Int64).view(1, 1, n).expand(b, h, n);                      // (B, Hkv, n)
        keys.Append(update.Keys, Headroom);                                                                      // 1.
        values.Append(update.Values, Headroom);
        positions.Append(newPos, Headroom);
        valid?.AppendFill(b, h, n, 1, ScalarType.Bool, dev, Headroom);
        foreach (var (slots, fill) in state.Values) slots.AppendFill(b, h, n, fill, ScalarType.Float32, dev, Headroom);
        Seen += n;
        if (step == 0) prefillLength = n;
        var (k, v, pos, val) = (keys.View, values.View, positions.View, valid?.View);
        using var context = new PolicyContext(k, v, pos, val, update.Queries, update.Positions, Seen, prefillLength, step, new StateAccess(this, b, h, dev));
        Scorer.Observe(context);                                                                                 // 2.
        var view = new CacheView(k.alias().MoveToOuterDisposeScope(), v.alias().MoveToOuterDisposeScope(),      // 3.
            pos.alias().MoveToOuterDisposeScope(), val?.alias().MoveToOuterDisposeScope());
        var keep = KeepCounts(context, h);
        bool over = Length > keep.Max();
        bool compress = step == 0
            ? Budget.Prefill && over
            : Budget.Decoding && Length >= keep.Max() + Budget.Interval;
        if (compress || Scorer.Expires) Compress(context, keep);                                                 // 4.
        step++;
        return view;
    }

    /// <summary>The scorer's per-slot state, kept in slot buffers that follow the cache's appends and evictions.</summary>
    private sealed class StateAccess(PolicyCache cache, long batch, long heads, Device device) : IPolicyState
    {
        public Tensor Get(string name, double fill)
        {
            if (!cache.state.TryGetValue(name, out var s))
            {
                var slots = new SlotBuffer();
                slots.AppendFill(batch, heads, cache.Length, fill, ScalarType.Float32, device, cache.Headroom);
                cache.state[name] = s = (slots, fill);
            }
            return s.Slots.View;
        }

        public void Set(string name, Tensor value)
        {
            if (!cache.state.ContainsKey(name)) Get(name, 0);
            cache.state[name].Slots.Set(value.detach());
        }
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
            var prompt = context.Positions.lt(prefillLength);
            if (context.Valid is not null) prompt = prompt.logical_and(context.Valid);
            int held = (int)prompt.sum(-1).max().item<long>();
            return perHead.Select(t => t + held).ToArray();
        }
        return perHead;
    }

    private void Compress(PolicyContext context, int[] keep)
    {
        using var scope = torch.NewDisposeScope();
        var scores = Scorer.Score(context);                                                                    // 4.
        Check.Rank(scores, 3, $"{Scorer.Name}.Score", "(B, Hkv, L)");
        Check.Dim(scores, 2, Length, $"{Scorer.Name}.Score", "one score per held slot");
        long protect = Budget.ProtectPrompt && !context.IsPrefill ? prefillLength : 0;
        var mask = KeepSet.Mask(scores, context.Positions, context.Valid, Seen, keep, Budget.Sinks, Budget.Window, Scorer.Expired(context), protect);
        var (index, real) = KeepSet.Compact(mask);                                                             // (B, Hkv, K)
        KeepSlots(index, real);
        Compressions++;
    }

    /// <summary>Keeps the slots <paramref name="index"/> (B, Hkv, K) of every buffer; <paramref name="real"/> marks padding (null: none).</summary>
    private void KeepSlots(Tensor index, Tensor? real)
    {
        using var scope = torch.NewDisposeScope();
        var wasValid = valid?.View.gather(2, index);                                                           // before the buffers change
        foreach (var buffer in new[] { keys, values, positions }) buffer.Keep(index, Headroom);
        foreach (var (slots, _) in state.Values) slots.Keep(index, Headroom);
        SetValid(real is null ? wasValid : wasValid is null ? real : real.logical_and(wasValid));
    }

    /// <summary>Replaces the validity of the held slots (B, Hkv, L); null: every slot is real.</summary>
    private void SetValid(Tensor? now)
    {
        valid?.Dispose();
        valid = null;
        if (now is null) return;
        valid = new SlotBuffer();
        valid.AppendFill(now.shape[0], now.shape[1], now.shape[2], 1, ScalarType.Bool, now.device, Headroom);
        valid.Set(now);
    }

    /// <inheritdoc/>
    public override void Crop(long length)
    {
        CheckCrop(length);
        if (!keys.Allocated) { Seen = length; return; }
        using var scope = torch.NewDisposeScope();
        var keepMask = positions.View.lt(length);
        if (valid is not null) keepMask = keepMask.logical_and(valid.View);
        var (index, real) = KeepSet.Compact(keepMask);
        var any = keepMask.gather(2, index);
        foreach (var buffer in new[] { keys, values, positions }) buffer.Keep(index, Headroom);
        foreach (var (slots, _) in state.Values) slots.Keep(index, Headroom);
        SetValid(real is null && any.all().item<bool>() ? null : any);
        Seen = length;
    }

    /// <inheritdoc/>
    public override void Reorder(Tensor batchIndex)
    {
        if (!keys.Allocated) return;
        using var scope = torch.NewDisposeScope();
        CheckReorder(batchIndex, keys.View.shape[0], keys.View.device);
        foreach (var buffer in new[] { keys, values, positions }) buffer.SelectRows(batchIndex);
        valid?.SelectRows(batchIndex);
        foreach (var (slots, _) in state.Values) slots.SelectRows(batchIndex);
    }

    /// <inheritdoc/>
    public override void Reset()
    {
        keys.Dispose(); values.Dispose(); positions.Dispose(); valid?.Dispose();
        valid = null;
        foreach (var (slots, _) in state.Values) slots.Dispose();
        state.Clear();
        Scorer.Reset();
        Seen = 0; step = 0; prefillLength = 0; Compressions = 0;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Reset();
}
