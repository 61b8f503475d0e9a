using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// The growing cache: every key and value ever appended, concatenated along the token axis (Hugging Face's
/// DynamicCache). Appending reallocates, so a step costs O(L) copies; the static cache avoids that.
/// </summary>
public sealed class DynamicCache : LayerCache
{
    private Tensor? keys, values;   // (B, Hkv, L, D), (B, Hkv, L, Dv); outside any dispose scope

    /// <inheritdoc/>
    public override long Length => keys?.shape[2] ?? 0;

    /// <inheritdoc/>
    public override long StorageBytes => keys is null ? 0 : keys.NumberOfElements * keys.ElementSize + values!.NumberOfElements * values.ElementSize;

    /// <inheritdoc/>
    public override CacheView Update(CacheUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        CacheChecks.Update(update, keys, values);
        using (var scope = torch.NewDisposeScope())
        {
            var k = keys is null ? update.Keys.clone() : torch.cat([keys, update.Keys], 2);
            var v = values is null ? update.Values.clone() : torch.cat([values, update.Values], 2);
            keys?.Dispose();
            values?.Dispose();
            keys = k.DetachFromDisposeScope();
            values = v.DetachFromDisposeScope();
        }
        Seen += update.Keys.shape[2];
        return new CacheView(keys.alias(), values.alias());
    }

    /// <inheritdoc/>
    public override void Crop(long length)
    {
        CheckCrop(length);
        if (keys is null) return;
        if (length == 0) { Reset(); return; }
        var (k, v) = (keys.narrow(2, 0, length).DetachFromDisposeScope(), values!.narrow(2, 0, length).DetachFromDisposeScope());   // views: the next append copies anyway
        keys.Dispose(); values.Dispose();
        (keys, values) = (k, v);
        Seen = length;
    }

    /// <inheritdoc/>
    public override void Reorder(Tensor batchIndex)
    {
        if (keys is null) return;
        CheckReorder(batchIndex, keys.shape[0], keys.device);
        var (k, v) = (keys.index_select(0, batchIndex).DetachFromDisposeScope(), values!.index_select(0, batchIndex).DetachFromDisposeScope());
        keys.Dispose(); values.Dispose();
        (keys, values) = (k, v);
    }

    /// <inheritdoc/>
    public override void Reset()
    {
        keys?.Dispose();
        values?.Dispose();
        keys = values = null;
        Seen = 0;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Reset();
}

/// <summary>Argument checks shared by the cache forms.</summary>
public static class CacheChecks
{
    /// <summary>Checks an update against itself and against what the cache holds (batch, heads, dims, dtype, device).</summary>
    public static void Update(CacheUpdate update, Tensor? heldKeys, Tensor? heldValues)
    {
        Check.Rank(update.Keys, 4, "update.Keys", "(B, Hkv, n, D)");
        Check.Rank(update.Values, 4, "update.Values", "(B, Hkv, n, Dv)");
        Check.SameDType(update.Keys, "update.Keys", update.Values, "update.Values");
        Check.SameDevice(update.Keys, "update.Keys", update.Values, "update.Values");
        long[] ks = update.Keys.shape, vs = update.Values.shape;
        Check.Dim(vs, 0, ks[0], "update.Values", "batch B like the keys");
        Check.Dim(vs, 1, ks[1], "update.Values", "heads Hkv like the keys");
        Check.Dim(vs, 2, ks[2], "update.Values", "tokens n like the keys");
        Check.Rank(update.Positions, 1, "update.Positions", "(n)");
        Check.Dim(update.Positions, 0, ks[2], "update.Positions", "one position per new token");
        if (heldKeys is null || heldValues is null) return;
        long[] hk = heldKeys.shape, hv = heldValues.shape;
        Check.SameDType(heldKeys, "the cached keys", update.Keys, "update.Keys");
        Check.SameDevice(heldKeys, "the cached keys", update.Keys, "update.Keys");
        Check.Dim(ks, 0, hk[0], "update.Keys", "batch B like the cached keys");
        Check.Dim(ks, 1, hk[1], "update.Keys", "heads Hkv like the cached keys");
        Check.Dim(ks, 3, hk[3], "update.Keys", "head dim D like the cached keys");
        Check.Dim(vs, 3, hv[3], "update.Values", "value dim Dv like the cached values");
    }
}
