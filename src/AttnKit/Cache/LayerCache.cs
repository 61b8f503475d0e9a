using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>What one attention layer hands its cache at one forward call.</summary>
/// <param name="Keys">The new keys (B, Hkv, n, D): rotated when the cache <see cref="LayerCache.StoresRotatedKeys"/>, raw otherwise.</param>
/// <param name="Values">The new values (B, Hkv, n, Dv).</param>
/// <param name="Queries">The new queries (B, Hq, n, D), rotated like the keys: what scoring policies look at. May be null for layers that do not expose them.</param>
/// <param name="Positions">The absolute positions of the new tokens (n), int64.</param>
public sealed record CacheUpdate(Tensor Keys, Tensor Values, Tensor? Queries, Tensor Positions);

/// <summary>
/// What attention reads after an update: every key and value the cache holds for this layer, with the original
/// position of each (for the causal mask and for re-rotating raw keys).
/// </summary>
/// <param name="Keys">(B, Hkv, L, D).</param>
/// <param name="Values">(B, Hkv, L, Dv).</param>
/// <param name="KeyPositions">Original positions of the held tokens: (L), or (B, Hkv, L) when rows keep different tokens; null means 0 … L−1.</param>
/// <param name="Valid">(B, Hkv, L) bool, false for padding slots of rows that hold fewer tokens; null when every slot is valid.</param>
/// <param name="RotaryKeyPositions">For caches of raw keys: the positions to rotate the held keys at; null: <paramref name="KeyPositions"/>.</param>
/// <param name="SinkQueryPositions">
/// For caches that re-position the sinks (StreamingLLM, <see cref="SlidingWindowCache.Repositions"/>): the positions (n)
/// at which the new queries read the sinks, the held keys at positions below <paramref name="Sinks"/>, which are the first
/// min(Sinks, L) keys of the view; the other keys are read by the queries at their own positions
/// (<see cref="StreamingLlmAttention"/>). Null: every key is read at the queries' own positions.
/// </param>
/// <param name="Window">For window caches: a query at position p reads only keys at positions above p − Window (and the first <paramref name="Sinks"/> positions); null: no window.</param>
/// <param name="Sinks">With <paramref name="Window"/>: the first positions every query reads (StreamingLLM's attention sinks).</param>
/// <param name="SinkQueryStart">With <paramref name="SinkQueryPositions"/> for one new token: that position, known on the host (the query is then rotated with <see cref="Positional.RotaryEmbedding.ApplyAt"/>).</param>
/// <param name="AllVisible">Every held key is visible to every new query (a decoding step into a window cache holds exactly the keys it may read): attention needs no mask.</param>
public sealed record CacheView(Tensor Keys, Tensor Values, Tensor? KeyPositions = null, Tensor? Valid = null,
    Tensor? RotaryKeyPositions = null, Tensor? SinkQueryPositions = null, long? Window = null, long Sinks = 0, bool AllVisible = false, long? SinkQueryStart = null);

/// <summary>
/// The keys and values one attention layer keeps between forward calls, as a Hugging Face transformers cache layer:
/// <see cref="Update"/> appends the new tokens and returns everything attention should read. Storage forms (growing,
/// static, sliding window, paged) and eviction policies are subclasses or wrappers. A cache owns its storage; the
/// tensors of a returned <see cref="CacheView"/> belong to the caller's dispose scope (views of the storage or copies).
/// </summary>
public abstract class LayerCache : IDisposable
{
    /// <summary>Whether keys are stored after RoPE (true, the usual) or before it, to be rotated at read time.</summary>
    public virtual bool StoresRotatedKeys => true;

    /// <summary>Tokens held now (per row, the most any row holds).</summary>
    public abstract long Length { get; }

    /// <summary>Tokens ever appended: the position the next token will have.</summary>
    public long Seen { get; protected set; }

    /// <summary>Appends the update's tokens and returns what attention reads.</summary>
    public abstract CacheView Update(CacheUpdate update);

    /// <summary>Drops every token; the cache can be reused.</summary>
    public abstract void Reset();

    /// <summary>Bytes of the key/value storage this cache holds now (allocated, not just used).</summary>
    public abstract long StorageBytes { get; }

    /// <summary>
    /// Drops every token at position <paramref name="length"/> or later, so that the next token has that position
    /// (assisted and speculative decoding roll back rejected tokens this way). Forms that cannot say so throw
    /// <see cref="NotSupportedException"/>.
    /// </summary>
    public virtual void Crop(long length) => throw new NotSupportedException($"{GetType().Name} cannot crop");

    /// <summary>
    /// Reorders the batch rows for beam search: row i becomes the old row <paramref name="batchIndex"/>[i]
    /// ((B′) int64; B′ may differ from B). Forms that cannot say so throw <see cref="NotSupportedException"/>.
    /// </summary>
    public virtual void Reorder(Tensor batchIndex) => throw new NotSupportedException($"{GetType().Name} cannot reorder");

    /// <summary>Checks <paramref name="length"/> for <see cref="Crop"/>: 0 … <see cref="Seen"/>.</summary>
    protected void CheckCrop(long length)
    {
        if (length < 0 || length > Seen)
            throw new ArgumentException($"{nameof(length)}: expected 0 … {Seen} (the tokens seen), got {length}", nameof(length));
    }

    /// <summary>Checks a beam index for <see cref="Reorder"/>: (B′) int64 on <paramref name="device"/>, each in 0 … <paramref name="batch"/> − 1.</summary>
    protected static void CheckReorder(Tensor batchIndex, long batch, Device device)
    {
        Core.Check.NotNull(batchIndex, nameof(batchIndex));
        Core.Check.Rank(batchIndex, 1, nameof(batchIndex), "(B')");
        if (batchIndex.dtype != ScalarType.Int64)
            throw new ArgumentException($"{nameof(batchIndex)}: expected int64 row indices, got {batchIndex.dtype}", nameof(batchIndex));
        if (batchIndex.device_type != device.type)
            throw new ArgumentException($"{nameof(batchIndex)}: expected a tensor on {device} like the cache, got one on {batchIndex.device}", nameof(batchIndex));
        if (batchIndex.shape[0] == 0) throw new ArgumentException($"{nameof(batchIndex)}: expected at least one row", nameof(batchIndex));
        using var scope = TorchSharp.torch.NewDisposeScope();
        long lo = batchIndex.min().item<long>(), hi = batchIndex.max().item<long>();
        if (lo < 0 || hi >= batch)
            throw new ArgumentException($"{nameof(batchIndex)}: rows must be in 0 … {batch - 1}, got values from {lo} to {hi}", nameof(batchIndex));
    }

    /// <summary>Fixed-size state a layout keeps between calls besides keys and values (see <see cref="LayerState"/>); cleared by <see cref="ModelCache.Reset"/> and on dispose.</summary>
    public LayerState State { get; } = new();

    /// <summary>Frees the storage.</summary>
    public void Dispose()
    {
        State.Clear();
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the storage.</summary>
    protected abstract void Dispose(bool disposing);
}

/// <summary>One cache per layer of a model, made by a factory, so that a model can run with any cache or policy.</summary>
public sealed class ModelCache : IDisposable
{
    private readonly LayerCache[] layers;

    /// <summary>A cache for <paramref name="layerCount"/> layers, each made by <paramref name="factory"/>(layer index).</summary>
    public ModelCache(int layerCount, Func<int, LayerCache> factory)
    {
        Core.Check.Positive(layerCount, nameof(layerCount));
        ArgumentNullException.ThrowIfNull(factory);
        layers = new LayerCache[layerCount];
        for (int i = 0; i < layerCount; i++)
            layers[i] = factory(i) ?? throw new ArgumentException($"{nameof(factory)}: returned null for layer {i}", nameof(factory));
    }

    /// <summary>A growing cache (<see cref="DynamicCache"/>) for every layer.</summary>
    public static ModelCache Dynamic(int layerCount) => new(layerCount, _ => new DynamicCache());

    /// <summary>The layer caches.</summary>
    public IReadOnlyList<LayerCache> Layers => layers;

    /// <summary>The cache of layer <paramref name="index"/>.</summary>
    public LayerCache this[int index] => layers[index];

    /// <summary>Tokens seen so far (layer 0's count): the position of the next token.</summary>
    public long Seen => layers[0].Seen;

    /// <summary>Storage bytes over all layers.</summary>
    public long StorageBytes => layers.Sum(l => l.StorageBytes);

    /// <summary>Crops every layer to <paramref name="length"/> tokens (<see cref="LayerCache.Crop"/>).</summary>
    public void Crop(long length)
    {
        foreach (var l in layers) l.Crop(length);
    }

    /// <summary>Reorders every layer's batch rows (<see cref="LayerCache.Reorder"/>), for beam search.</summary>
    public void Reorder(Tensor batchIndex)
    {
        foreach (var l in layers) l.Reorder(batchIndex);
    }

    /// <summary>Drops every token of every layer.</summary>
    public void Reset()
    {
        foreach (var l in layers)
        {
            l.Reset();
            l.State.Clear();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var l in layers) l.Dispose();
    }
}
