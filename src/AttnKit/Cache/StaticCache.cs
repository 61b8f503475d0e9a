using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// The static cache: key and value buffers of <see cref="Capacity"/> tokens allocated once, at the first update (Hugging
/// Face's StaticCache). Appending writes into the next free slots and never reallocates, and attention reads a view of
/// the filled prefix, so a decoding step copies only the new token (the growing <see cref="DynamicCache"/> copies every
/// held token at each step).
/// 1. first update: allocate (B, Hkv, Capacity, D) and (B, Hkv, Capacity, Dv);
/// 2. write the n new tokens at slots Length … Length + n − 1;
/// 3. return views of slots 0 … Length − 1 (tokens in order, so the causal mask needs no positions).
/// </summary>
public sealed class StaticCache : LayerCache
{
    private Tensor? keys, values;   // (B, Hkv, Capacity, D), (B, Hkv, Capacity, Dv)
    private long length;

    /// <summary>A cache for at most <paramref name="capacity"/> tokens.</summary>
    public StaticCache(long capacity)
    {
        Check.Positive(capacity, nameof(capacity));
        Capacity = capacity;
    }

    /// <summary>Tokens the buffers hold at most.</summary>
    public long Capacity { get; }

    /// <inheritdoc/>
    public override long Length => length;

    /// <inheritdoc/>
    public override long StorageBytes => keys is null ? 0 : keys.NumberOfElements * keys.ElementSize + values!.NumberOfElements * values.ElementSize;

    /// <summary>The key buffer (for tests that check it is never reallocated); null before the first update.</summary>
    public Tensor? KeyBuffer => keys;

    /// <inheritdoc/>
    public override CacheView Update(CacheUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        CacheChecks.Update(update, keys, values);
        long n = update.Keys.shape[2];
        if (length + n > Capacity)
            throw new ArgumentException($"update.Keys: {n} new tokens do not fit: the static cache holds {length} of {Capacity}", nameof(update));
        if (keys is null)                                                                 // 1.
        {
            long[] ks = update.Keys.shape, vs = update.Values.shape;
            keys = torch.zeros([ks[0], ks[1], Capacity, ks[3]], update.Keys.dtype, update.Keys.device).DetachFromDisposeScope();
            values = torch.zeros([vs[0], vs[1], Capacity, vs[3]], update.Values.dtype, update.Values.device).DetachFromDisposeScope();
        }
        using (var scope = torch.NewDisposeScope())
        {
            keys.narrow(2, length, n).copy_(update.Keys);                                 // 2.
            values!.narrow(2, length, n).copy_(update.Values);
        }
        length += n;
        Seen += n;
        return new CacheView(keys.narrow(2, 0, length), values!.narrow(2, 0, length));    // 3.
    }

    /// <inheritdoc/>
    public override void Crop(long length)
    {
        CheckCrop(length);
        this.length = Seen = length;
    }

    /// <inheritdoc/>
    public override void Reorder(Tensor batchIndex)
    {
        if (keys is null) return;
        CheckReorder(batchIndex, keys.shape[0], keys.device);
        if (batchIndex.shape[0] != keys.shape[0])
            throw new ArgumentException($"{nameof(batchIndex)}: a static cache keeps its batch size {keys.shape[0]}, got {batchIndex.shape[0]} rows", nameof(batchIndex));
        using var scope = torch.NewDisposeScope();
        keys.copy_(keys.index_select(0, batchIndex));                                     // in place: the buffers stay
        values!.copy_(values.index_select(0, batchIndex));
    }

    /// <inheritdoc/>
    public override void Reset()
    {
        length = 0;
        Seen = 0;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        keys?.Dispose();
        values?.Dispose();
        keys = values = null;
        length = Seen = 0;
    }
}
