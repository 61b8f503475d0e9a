using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// The physical pages of a paged KV cache (one pool per layer, shared by every sequence that layer serves). Kwon et
/// al., "Efficient Memory Management for Large Language Model Serving with PagedAttention", 2023 (arXiv 2309.06180),
/// section 4: memory is allocated in fixed blocks of <see cref="BlockSize"/> tokens; a sequence's block table maps its
/// logical blocks to physical pages; pages carry reference counts so that sequences share a prefix without copies, and
/// a shared page is copied only when a sequence writes into it (copy-on-write).
/// Keys (P, blockSize, Hkv, D) and values (P, blockSize, Hkv, Dv): slot s = page × blockSize + offset in the flattened
/// (P·blockSize, Hkv, D) view.
/// </summary>
public sealed class PagePool : IDisposable
{
    private readonly int[] refs;
    private readonly Stack<int> free;

    /// <summary>A pool of <paramref name="pages"/> pages of <paramref name="blockSize"/> tokens.</summary>
    public PagePool(int pages, int blockSize, long kvHeads, long headDim, long? valueDim = null, ScalarType? dtype = null, Device? device = null)
    {
        Check.Positive(pages, nameof(pages));
        Check.Positive(blockSize, nameof(blockSize));
        Check.Positive(kvHeads, nameof(kvHeads));
        Check.Positive(headDim, nameof(headDim));
        if (valueDim is long dv) Check.Positive(dv, nameof(valueDim));
        (Pages, BlockSize) = (pages, blockSize);
        var (dt, dev) = (dtype ?? Kit.DType, device ?? Kit.Device);
        Keys = torch.zeros([pages, blockSize, kvHeads, headDim], dt, dev).DetachFromDisposeScope();
        Values = torch.zeros([pages, blockSize, kvHeads, valueDim ?? headDim], dt, dev).DetachFromDisposeScope();
        refs = new int[pages];
        free = new Stack<int>(Enumerable.Range(0, pages).Reverse());   // page 0 is handed out first
    }

    /// <summary>Physical pages P.</summary>
    public int Pages { get; }
    /// <summary>Tokens per page.</summary>
    public int BlockSize { get; }
    /// <summary>The key pages (P, blockSize, Hkv, D).</summary>
    public Tensor Keys { get; }
    /// <summary>The value pages (P, blockSize, Hkv, Dv).</summary>
    public Tensor Values { get; }
    /// <summary>Pages not referenced by any sequence.</summary>
    public int FreePages => free.Count;
    /// <summary>Bytes of one page (keys and values).</summary>
    public long PageBytes => (Keys.NumberOfElements * Keys.ElementSize + Values.NumberOfElements * Values.ElementSize) / Pages;
    /// <summary>Bytes of the pages in use.</summary>
    public long UsedBytes => (long)(Pages - FreePages) * PageBytes;
    /// <summary>The reference count of <paramref name="page"/>.</summary>
    public int RefCount(int page) => refs[page];

    /// <summary>Takes a free page (reference count 1).</summary>
    public int Allocate()
    {
        if (free.Count == 0) throw new InvalidOperationException($"the page pool is full: all {Pages} pages of {BlockSize} tokens are in use");
        int p = free.Pop();
        refs[p] = 1;
        return p;
    }

    /// <summary>One more sequence references <paramref name="page"/>.</summary>
    public void Retain(int page)
    {
        if (refs[page] <= 0) throw new InvalidOperationException($"page {page} is free; it cannot be shared");
        refs[page]++;
    }

    /// <summary>One sequence stops referencing <paramref name="page"/>; at zero it is free again.</summary>
    public void Release(int page)
    {
        if (refs[page] <= 0) throw new InvalidOperationException($"page {page} is already free");
        if (--refs[page] == 0) free.Push(page);
    }

    /// <summary>Copy-on-write: a new page with the first <paramref name="tokens"/> slots of <paramref name="page"/>, which loses one reference.</summary>
    public int CopyOnWrite(int page, int tokens)
    {
        int copy = Allocate();
        using var scope = torch.NewDisposeScope();
        Keys[copy].narrow(0, 0, tokens).copy_(Keys[page].narrow(0, 0, tokens));
        Values[copy].narrow(0, 0, tokens).copy_(Values[page].narrow(0, 0, tokens));
        Release(page);
        return copy;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        Keys.Dispose();
        Values.Dispose();
    }
}
