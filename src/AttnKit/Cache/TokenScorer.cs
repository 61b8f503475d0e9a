using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// An eviction policy's half of the score-then-keep core: a score per (batch row, KV head, held token), higher keeps.
/// <see cref="PolicyCache"/> does the other half (<see cref="KeepSet"/>) under a <see cref="CacheBudget"/>. A scorer sees
/// every update (<see cref="Observe"/>) so that it can accumulate statistics in per-slot state that the cache carries
/// through evictions. One scorer instance per layer.
/// </summary>
public abstract class TokenScorer
{
    /// <summary>A short name for tables and charts.</summary>
    public abstract string Name { get; }

    /// <summary>Called at every update, after the new tokens are appended and before any eviction.</summary>
    public virtual void Observe(PolicyContext context) { }

    /// <summary>Scores (B, Hkv, L) of the held tokens, higher keeps; −∞ never keeps.</summary>
    public abstract Tensor Score(PolicyContext context);

    /// <summary>Tokens whose lifetime has ended (B, Hkv, L) bool, dropped whatever the budget; null: none.</summary>
    public virtual Tensor? Expired(PolicyContext context) => null;

    /// <summary>Whether <see cref="Expired"/> can drop tokens, so that the cache compresses at every update.</summary>
    public virtual bool Expires => false;

    /// <summary>Forgets what the scorer keeps outside the cache's per-slot state (and frees its tensors); the cache calls it when it is reset or disposed.</summary>
    public virtual void Reset() { }
}

/// <summary>Where a cache keeps a scorer's per-slot state (B, Hkv, L) float32, by name.</summary>
internal interface IPolicyState
{
    /// <summary>The state <paramref name="name"/>, created with every slot at <paramref name="fill"/> when new.</summary>
    Tensor Get(string name, double fill);
    /// <summary>Replaces the state <paramref name="name"/> with <paramref name="value"/> (B, Hkv, L).</summary>
    void Set(string name, Tensor value);
}

/// <summary>What a scorer sees at one update: the held tokens (new ones included), the new queries, the attention weights, and its per-slot state.</summary>
public sealed class PolicyContext : IDisposable
{
    private readonly IPolicyState state;
    private Tensor? weights, kvWeights;

    internal PolicyContext(Tensor keys, Tensor values, Tensor positions, Tensor? valid, Tensor? queries, Tensor queryPositions,
        long seen, long prefillLength, int step, IPolicyState state)
    {
        (Keys, Values, Positions, Valid, Queries, QueryPositions) = (keys, values, positions, valid, queries, queryPositions);
        (Seen, PrefillLength, Step, this.state) = (seen, prefillLength, step, state);
    }

    /// <summary>Held keys (B, Hkv, L, D), rotated.</summary>
    public Tensor Keys { get; }
    /// <summary>Held values (B, Hkv, L, Dv).</summary>
    public Tensor Values { get; }
    /// <summary>Original positions of the held tokens (B, Hkv, L) int64.</summary>
    public Tensor Positions { get; }
    /// <summary>(B, Hkv, L) bool, false for padding; null: all valid.</summary>
    public Tensor? Valid { get; }
    /// <summary>The new queries (B, Hq, n, D), rotated; null when the layer gives none.</summary>
    public Tensor? Queries { get; }
    /// <summary>Positions of the new tokens (n).</summary>
    public Tensor QueryPositions { get; }
    /// <summary>Tokens seen so far, the new ones included.</summary>
    public long Seen { get; }
    /// <summary>Tokens of the first update (the prompt).</summary>
    public long PrefillLength { get; }
    /// <summary>0 for the first update (prefill), then 1, 2, … for each later one.</summary>
    public int Step { get; }
    /// <summary>Whether this update is the prefill.</summary>
    public bool IsPrefill => Step == 0;
    /// <summary>New tokens n.</summary>
    public long NewTokens => QueryPositions.shape[0];
    /// <summary>Held slots L.</summary>
    public long Length => Keys.shape[2];

    /// <summary>
    /// softmax(q·kᵀ/√D) of the new queries over the held tokens (B, Hq, n, L) float32, causal over the original
    /// positions, invalid slots excluded: what attention computed at this update (a layer with the default scale).
    /// </summary>
    public Tensor Weights => weights ?? Computed().Weights;   // kept for the whole update, whatever scope asks first

    /// <summary><see cref="Weights"/> averaged over the query heads of each KV head's group: (B, Hkv, n, L).</summary>
    public Tensor KvWeights => kvWeights ?? Computed().KvWeights;

    private (Tensor Weights, Tensor KvWeights) Computed()
    {
        var (w, kv) = ComputeWeights();
        (weights, kvWeights) = (w.DetachFromDisposeScope(), kv.DetachFromDisposeScope());
        return (weights, kvWeights);
    }

    /// <summary>Frees the weights computed for this update.</summary>
    public void Dispose()
    {
        weights?.Dispose();
        kvWeights?.Dispose();
        weights = kvWeights = null;
    }

    /// <summary>Averages (B, Hq, …) over each KV head's group of query heads: (B, Hkv, …).</summary>
    public Tensor GroupMean(Tensor perQueryHead)
    {
        long hq = perQueryHead.shape[1], hkv = Keys.shape[1];
        if (hq == hkv) return perQueryHead;
        var s = perQueryHead.shape;
        var grouped = perQueryHead.reshape([s[0], hkv, hq / hkv, .. s[2..]]);                             // (B, Hkv, G, …)
        return grouped.mean([2]);
    }

    /// <summary>
    /// Per-slot state (B, Hkv, L) float32 named <paramref name="name"/>; new slots start at <paramref name="fill"/>. The
    /// tensor is the cache's storage: read it, and change it through <see cref="SetState"/>.
    /// </summary>
    public Tensor State(string name, double fill = 0) => state.Get(name, fill);

    /// <summary>Replaces the state <paramref name="name"/> with <paramref name="value"/> (B, Hkv, L).</summary>
    public void SetState(string name, Tensor value)
    {
        Check.NotNull(value, nameof(value));
        Check.Rank(value, 3, nameof(value), "(B, Hkv, L)");
        Check.Dim(value, 2, Length, nameof(value), "one value per held slot");
        state.Set(name, value);
    }

    private (Tensor Weights, Tensor KvWeights) ComputeWeights()
    {
        if (Queries is null) throw new InvalidOperationException("this policy needs the queries; the attention layer gave none");
        using var scope = torch.NewDisposeScope();
        long[] qs = Queries.shape;
        long b = qs[0], hq = qs[1], n = qs[2], d = qs[3], hkv = Keys.shape[1], l = Keys.shape[2], g = hq / hkv;
        var q = (Queries.to(ScalarType.Float32) * (1.0 / Math.Sqrt(d))).reshape(b, hkv, g * n, d);          // (B, Hkv, G·n, D): a group's queries read their KV head once
        var logits = torch.matmul(q, Keys.to(ScalarType.Float32).transpose(2, 3)).view(b, hkv, g, n, l);    // (B, Hkv, G, n, L)
        Tensor w;
        if (n == 1 && Valid is null) w = logits.softmax(-1);                                                 // one new token: every held token is at or before it
        else
        {
            var allowed = Positions.unsqueeze(2).le(QueryPositions.view(1, 1, n, 1));                      // (B, Hkv, n, L)
            if (Valid is not null) allowed = allowed.logical_and(Valid.unsqueeze(2));
            w = logits.masked_fill(allowed.unsqueeze(2).logical_not(), float.NegativeInfinity).softmax(-1).nan_to_num(0); // (B, Hkv, G, n, L)
        }
        var kv = g == 1 ? w.view(b, hkv, n, l) : w.mean([2]);
        return (w.view(b, hq, n, l).MoveToOuterDisposeScope(), kv.MoveToOuterDisposeScope());
    }
}
