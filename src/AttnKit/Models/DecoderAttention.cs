using AttnKit.Attention;
using AttnKit.Attention.Masks;
using AttnKit.Cache;
using AttnKit.Positional;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Models;

/// <summary>What one decoder layer's attention gets at one forward call besides its input.</summary>
public sealed class AttentionStep
{
    /// <summary>The layer index.</summary>
    public required int Layer { get; init; }
    /// <summary>The absolute positions of the input's tokens (N), int64.</summary>
    public required Tensor Positions { get; init; }
    /// <summary>When the positions are consecutive (they are in <see cref="TinyLm"/>), the first one: rotation then reads a table instead of recomputing angles.</summary>
    public long? FirstPosition { get; init; }
    /// <summary>The rotary embedding of the model (null: no positions in attention).</summary>
    public RotaryEmbedding? Rope { get; init; }
    /// <summary>This layer's cache; null: attend within the input only.</summary>
    public LayerCache? Cache { get; init; }
    /// <summary>A mask in place of the causal one (prefix-LM, sliding window …); queries are the last tokens.</summary>
    public AttentionMask? Mask { get; init; }
    /// <summary>Whether to keep the attention weights of this call in <see cref="Weights"/>.</summary>
    public bool RecordWeights { get; init; }
    /// <summary>The attention weights (B, Hq, N, L), float32, when <see cref="RecordWeights"/>; owned by the caller's dispose scope.</summary>
    public Tensor? Weights { get; set; }
    /// <summary>State shared by the layers of one forward call (cross-layer attention keeps the shared keys and values here); values that are <see cref="IDisposable"/> are disposed when the call ends.</summary>
    public required IDictionary<string, object> Shared { get; init; }

    /// <summary>The same step over another cache (null: none); the caller copies <see cref="Weights"/> back when it records them.</summary>
    public AttentionStep WithCache(LayerCache? cache) => new()
    {
        Layer = Layer, Positions = Positions, Rope = Rope, Cache = cache, Mask = Mask, RecordWeights = RecordWeights, Shared = Shared,
    };
}

/// <summary>
/// The attention module of a decoder layer: x (B, N, d) → (B, N, d), reading and writing its cache. Subclasses define
/// the layout (how queries, keys and values are made and what is cached); <see cref="Attend"/> does the rest the same
/// way for all of them: rotary positions, the cache, the causal mask over the held tokens' positions, and the attention.
/// </summary>
public abstract class DecoderAttention : nn.Module
{
    /// <summary>Names the module.</summary>
    protected DecoderAttention(string name) : base(name) { }

    /// <summary>Attention of x (B, N, d) over the cache and itself: (B, N, d).</summary>
    public abstract Tensor Forward(Tensor x, AttentionStep step);

    /// <summary>Bytes one token adds to this layer's cache at <paramref name="elementBytes"/> per element (the layout's formula).</summary>
    public abstract long KvBytesPerToken(int elementBytes);

    /// <summary>
    /// The shared tail of every layout:
    /// 1. rotate q and k at the step's positions (caches of raw keys: k is rotated after the read, at the positions the cache gives);
    /// 2. append k and v to the cache and read back every held token;
    /// 3. mask: none when the cache says the new token may read all it holds (a decoding step into a window cache);
    ///    else causal over the held tokens' original positions (or the step's mask), the window, and invalid slots;
    /// 4. attend: (B, Hq, N, D) over (B, Hkv, L, D) → (B, Hq, N, Dv), recording the weights when asked; a cache that
    ///    re-positions its sinks (StreamingLLM) has them read by the query rotated at its rank in the cache
    ///    (<see cref="StreamingLlmAttention"/>).
    /// A layout whose cache holds a compressed form (a latent, factors) passes <paramref name="expand"/>: then k and v are
    /// what the cache stores, raw; after the read, expand turns every held token's (k, v) into attention's keys
    /// (B, Hkv', L, D) and values (B, Hkv', L, Dv), and the keys are rotated there, at the held tokens' positions, as for
    /// a cache of raw keys (RoPE is linear in the key, so rotating the expanded key equals expanding a rotated form).
    /// </summary>
    protected static Tensor Attend(Tensor q, Tensor k, Tensor v, AttentionStep step, double? scale = null,
        Func<Tensor, Tensor, (Tensor Keys, Tensor Values)>? expand = null)
    {
        var rope = step.Rope;
        var cache = step.Cache;
        bool rotateAfterRead = expand is not null || (cache is not null && !cache.StoresRotatedKeys);
        var rawQ = q;
        Tensor? kpRotary = null, sinkPositions = null;
        long? sinkStart = null;
        if (rope is not null)
        {
            if (!rotateAfterRead && step.FirstPosition is long p)
                (q, k) = rope.ApplyFrom(q, k, p);                                          // 1. both at once
            else
            {
                q = step.FirstPosition is long p0 ? rope.ApplyFrom(q, p0) : rope.Apply(q, step.Positions); // 1.
                if (!rotateAfterRead) k = step.FirstPosition is long p1 ? rope.ApplyFrom(k, p1) : rope.Apply(k, step.Positions);
            }
        }
        Tensor? keyPositions = null, valid = null;
        long? window = null;
        long sinks = 0;
        bool allVisible = false;
        if (cache is not null)
        {
            var view = cache.Update(new CacheUpdate(k, v, expand is not null ? null : rotateAfterRead ? rawQ : q, step.Positions)); // 2. queries as the keys are stored
            (k, v, keyPositions, valid, window, sinks, allVisible) = (view.Keys, view.Values, view.KeyPositions, view.Valid, view.Window, view.Sinks, view.AllVisible);
            kpRotary = view.RotaryKeyPositions ?? keyPositions ?? torch.arange(k.shape[2], ScalarType.Int64, k.device);
            (sinkPositions, sinkStart) = (view.SinkQueryPositions, view.SinkQueryStart);
        }
        if (expand is not null) (k, v) = expand(k, v);                                    //    compressed form → keys and values
        if (rotateAfterRead && rope is not null) k = rope.Apply(k, kpRotary ?? step.Positions);
        var sinkQueries = sinkPositions is null || rope is null ? null                      // StreamingLLM: the sinks read at the query's rank
            : sinkStart is long r ? rope.ApplyAt(rawQ, r) : rope.Apply(rawQ, sinkPositions);
        var options = new AttentionOptions { Scale = scale, ReturnWeights = step.RecordWeights };
        long n = q.shape[2], l = k.shape[2];
        if (allVisible && valid is null && step.Mask is null)
        {
            options = options with { QueryOffset = l - n };                                // 3. the cache holds exactly what the new token may read
        }
        else if (keyPositions is null && valid is null && window is null)
        {
            options = options with { Mask = step.Mask ?? Masks.Causal };                 // 3. queries are the last L − N … L − 1
        }
        else
        {
            if (step.Mask is not null)
                throw new ArgumentException("step.Mask: a custom mask needs a cache that keeps every token in order; this cache evicts or pads", nameof(step));
            long groups = q.shape[1] / k.shape[1];
            var kpos = keyPositions ?? torch.arange(l, ScalarType.Int64, k.device);
            Tensor allowed = kpos.dim() == 1
                ? kpos.unsqueeze(0).le(step.Positions.unsqueeze(1)).view(1, 1, n, l)       // (1, 1, N, L)
                : kpos.unsqueeze(2).le(step.Positions.view(1, 1, n, 1));                   // (B, Hkv, N, L)
            if (window is long w)                                                          //    window caches: only the last w positions and the sinks
            {
                var near = kpos.dim() == 1
                    ? (step.Positions.unsqueeze(1) - kpos.unsqueeze(0)).lt(w).view(1, 1, n, l)      // (1, 1, N, L)
                    : (step.Positions.view(1, 1, n, 1) - kpos.unsqueeze(2)).lt(w);                  // (B, Hkv, N, L)
                var sink = kpos.dim() == 1 ? kpos.lt(sinks).view(1, 1, 1, l) : kpos.lt(sinks).unsqueeze(2);
                allowed = allowed.logical_and(near.logical_or(sink));
            }
            if (valid is not null) allowed = allowed.logical_and(valid.unsqueeze(2));     // (B, Hkv, N, L)
            if (allowed.shape[1] != 1 && groups != 1) allowed = allowed.repeat_interleave(groups, dim: 1); // (B, Hq, N, L)
            options = options with { MaskTensor = allowed };
        }
        using var result = sinkQueries is not null
            ? StreamingLlmAttention.Attend(q, sinkQueries, k, v, sinks, options.MaskTensor, scale, step.RecordWeights) // 4.
            : ScaledDotProductAttention.Compute(q, k, v, options);
        if (step.RecordWeights) step.Weights = result.Weights!.alias();
        return result.Output.alias();
    }
}
