using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// Per-slot storage of an evicting cache, (B, H, capacity, …), with room to append without reallocating: what
/// <see cref="PolicyCache"/> keeps its keys, values, positions, validity and scorer state in. Appending writes the new
/// slots in place; keeping a subset (eviction, cropping) gathers it into the first slots; <see cref="View"/> is the
/// held slots (B, H, L, …), a view of the storage valid until the next call that changes it.
/// 1. append n slots: grow to L + n + headroom when full (one copy of the held slots), then write slots L … L + n − 1;
/// 2. keep: gather the kept slots (B, H, K) into the first slots of new storage for K + headroom;
/// 3. reorder: pick batch rows (beam search).
/// </summary>
internal sealed class SlotBuffer : IDisposable
{
    private Tensor? storage;

    /// <summary>Held slots L.</summary>
    public long Length { get; private set; }

    /// <summary>Whether anything was ever appended (storage exists).</summary>
    public bool Allocated => storage is not null;

    /// <summary>The held slots (B, H, L, …), a view of the storage.</summary>
    public Tensor View => storage!.narrow(2, 0, Length);

    /// <summary>Bytes of the held slots.</summary>
    public long HeldBytes => storage is null ? 0 : storage.NumberOfElements / storage.shape[2] * Length * storage.ElementSize;

    /// <summary>Step 1: appends <paramref name="slots"/> (B, H, n, …) after the held slots.</summary>
    public void Append(Tensor slots, long headroom)
    {
        long n = slots.shape[2];
        Reserve(slots.shape, slots.dtype, slots.device, n, headroom);
        using var slot = storage!.narrow(2, Length, n);
        slot.copy_(slots);
        Length += n;
    }

    /// <summary>Step 1 with every new slot set to <paramref name="fill"/>: (B, H, n) of <paramref name="dtype"/>.</summary>
    public void AppendFill(long batch, long heads, long n, double fill, ScalarType dtype, Device device, long headroom)
    {
        Reserve([batch, heads, n], dtype, device, n, headroom);
        using var slot = storage!.narrow(2, Length, n);
        slot.fill_(fill);
        Length += n;
    }

    /// <summary>Replaces the held slots' values with <paramref name="value"/> (B, H, L, …), cast to the storage's dtype.</summary>
    public void Set(Tensor value)
    {
        using var view = View;
        view.copy_(value);
    }

    /// <summary>
    /// Step 2: keeps the slots <paramref name="index"/> (B, H, K) int64, in that order, in new storage: views handed
    /// out before (what this update's queries read) keep the slots they showed.
    /// </summary>
    public void Keep(Tensor index, long headroom)
    {
        using var scope = torch.NewDisposeScope();
        long k = index.shape[2];
        var view = View;
        var idx = view.dim() == 3 ? index : index.unsqueeze(-1).expand([.. index.shape, .. view.shape[3..]]);
        var kept = view.gather(2, idx);                                                       // (B, H, K, …)
        var next = torch.empty([.. kept.shape[..2], k + headroom, .. kept.shape[3..]], kept.dtype, kept.device);
        next.narrow(2, 0, k).copy_(kept);
        storage!.Dispose();
        storage = next.DetachFromDisposeScope();
        Length = k;
    }

    /// <summary>Step 3: row i becomes the old row <paramref name="batchIndex"/>[i].</summary>
    public void SelectRows(Tensor batchIndex)
    {
        if (storage is null) return;
        var next = storage.index_select(0, batchIndex).DetachFromDisposeScope();
        storage.Dispose();
        storage = next;
    }

    private void Reserve(long[] shape, ScalarType dtype, Device device, long n, long headroom)
    {
        long capacity = storage?.shape[2] ?? 0;
        if (storage is not null && Length + n <= capacity) return;
        using var scope = torch.NewDisposeScope();
        var grown = torch.empty([shape[0], shape[1], Length + n + headroom, .. shape[3..]], dtype, device);
        if (storage is not null && Length > 0) grown.narrow(2, 0, Length).copy_(View);
        storage?.Dispose();
        storage = grown.DetachFromDisposeScope();
    }

    /// <summary>Frees the storage.</summary>
    public void Dispose()
    {
        storage?.Dispose();
        storage = null;
        Length = 0;
    }
}
