using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// A paged cache: the tokens of each batch row live in pages of a shared <see cref="PagePool"/>, found through the row's
/// block table. Kwon et al., "Efficient Memory Management for Large Language Model Serving with PagedAttention", 2023
/// (arXiv 2309.06180), section 4.2–4.4.
/// 1. token i of a row is logical block i / blockSize, offset i mod blockSize; its slot is
///    table[block] × blockSize + offset;
/// 2. appending takes a new page when a block starts, and copies a shared page before writing into it (copy-on-write);
/// 3. reading gathers every row's slots into (B, Hkv, L, D): the reference a paged-attention kernel computes in place;
///    where the block tables are runs of consecutive pages, the read is a strided view of the pool instead (<see cref="Read"/>);
/// 4. <see cref="Fork"/> shares a prefix's pages by reference counts; <see cref="Reorder"/> (beam search) permutes block
///    tables, never pages; <see cref="Crop"/>, <see cref="Reset"/> and disposal release pages to the pool.
/// </summary>
public sealed class PagedCache : LayerCache
{
    private readonly PagePool pool;
    private List<int>[] tables;
    private long length;

    /// <summary>An empty cache of <paramref name="batch"/> rows whose pages come from <paramref name="pool"/> (not owned: dispose it yourself).</summary>
    public PagedCache(PagePool pool, long batch = 1)
    {
        this.pool = pool ?? throw new ArgumentNullException(nameof(pool));
        Check.Positive(batch, nameof(batch));
        tables = Enumerable.Range(0, (int)batch).Select(_ => new List<int>()).ToArray();
    }

    /// <summary>The pool.</summary>
    public PagePool Pool => pool;

    /// <summary>Batch rows.</summary>
    public long Batch => tables.Length;

    /// <summary>The block table of row <paramref name="row"/>: logical block → physical page.</summary>
    public IReadOnlyList<int> BlockTable(int row) => tables[row];

    /// <inheritdoc/>
    public override long Length => length;

    /// <summary>Bytes of the pages this cache references (a page shared with another sequence counts in each).</summary>
    public override long StorageBytes => tables.Sum(t => (long)t.Count) * pool.PageBytes;

    /// <summary>The slots (B, L) int64 of every held token, in order (step 1).</summary>
    public Tensor Slots()
    {
        int bs = pool.BlockSize;
        var slots = new long[tables.Length * length];
        for (int b = 0; b < tables.Length; b++)
            for (long i = 0; i < length; i++) slots[b * length + i] = (long)tables[b][(int)(i / bs)] * bs + i % bs;  // 1.
        return torch.tensor(slots, [tables.Length, length], ScalarType.Int64, pool.Keys.device);
    }

    /// <summary>Up to this many new tokens (over all rows) are written slot by slot; more go through one indexed copy (the slot index then travels to the device).</summary>
    private const int DirectWrites = 4;

    /// <inheritdoc/>
    public override CacheView Update(CacheUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        CacheChecks.Update(update, null, null);
        long[] ks = update.Keys.shape, vs = update.Values.shape, ps = pool.Keys.shape;
        Check.Dim(ks, 0, Batch, "update.Keys", "batch B like the paged cache");
        Check.Dim(ks, 1, ps[2], "update.Keys", "heads Hkv like the page pool");
        Check.Dim(ks, 3, ps[3], "update.Keys", "head dim D like the page pool");
        Check.Dim(vs, 3, pool.Values.shape[3], "update.Values", "value dim Dv like the page pool");
        Check.SameDType(pool.Keys, "the page pool", update.Keys, "update.Keys");
        Check.SameDevice(pool.Keys, "the page pool", update.Keys, "update.Keys");
        long n = ks[2];
        int bs = pool.BlockSize;
        var newSlots = new long[Batch * n];
        for (int b = 0; b < Batch; b++)
        {
            var table = tables[b];
            for (long j = 0; j < n; j++)
            {
                long i = length + j;
                int block = (int)(i / bs), offset = (int)(i % bs);
                if (block == table.Count) table.Add(pool.Allocate());                              // 2. a new block
                else if (pool.RefCount(table[block]) > 1) table[block] = pool.CopyOnWrite(table[block], offset); // 2. shared: copy first
                newSlots[b * n + j] = (long)table[block] * bs + offset;                            // 1.
            }
        }
        using (var scope = torch.NewDisposeScope())
        {
            var flatK = pool.Keys.view(-1, ps[2], ps[3]);                                          // (P·bs, Hkv, D)
            var flatV = pool.Values.view(-1, ps[2], pool.Values.shape[3]);                         // (P·bs, Hkv, Dv)
            if (newSlots.Length <= DirectWrites)                                                   // a decoding step: write each slot in place, no index upload
                for (int b = 0; b < Batch; b++)
                    for (long j = 0; j < n; j++)
                    {
                        long slot = newSlots[b * n + j];
                        flatK.narrow(0, slot, 1).copy_(update.Keys.select(0, b).select(1, j));      // (1, Hkv, D) ← (Hkv, D)
                        flatV.narrow(0, slot, 1).copy_(update.Values.select(0, b).select(1, j));
                    }
            else
            {
                var idx = torch.tensor(newSlots, ScalarType.Int64, pool.Keys.device);
                flatK.index_copy_(0, idx, update.Keys.permute(0, 2, 1, 3).reshape(-1, ps[2], ps[3]));  // (B·n, Hkv, D)
                flatV.index_copy_(0, idx, update.Values.permute(0, 2, 1, 3).reshape(-1, ps[2], vs[3]));
            }
        }
        length += n;
        Seen += n;
        return Read();
    }

    /// <summary>
    /// Every row's tokens (step 3): keys (B, Hkv, L, D), values (B, Hkv, L, Dv). When every row's block table is one run
    /// of consecutive pages and the rows' runs start evenly spaced in the pool (a fresh pool hands pages out in order,
    /// so a cache that grows alone gets such a run; forked rows share one run), the tokens are read in place as a
    /// strided view of the pool, with no gather and no copy. Otherwise (pages scattered by frees, copy-on-write or
    /// interleaved rows) they are gathered: a strided view cannot jump between pages, which is what a paged-attention
    /// kernel's block table does inside the kernel.
    /// </summary>
    public CacheView Read()
    {
        if (ContiguousView() is { } view) return view;
        using var scope = torch.NewDisposeScope();
        long[] ps = pool.Keys.shape;
        long dv = pool.Values.shape[3];
        var slots = Slots().flatten();                                                             // (B·L)
        var k = pool.Keys.view(-1, ps[2], ps[3]).index_select(0, slots)
            .view(Batch, length, ps[2], ps[3]).permute(0, 2, 1, 3);                               // (B, Hkv, L, D)
        var v = pool.Values.view(-1, ps[2], dv).index_select(0, slots)
            .view(Batch, length, ps[2], dv).permute(0, 2, 1, 3);                                  // (B, Hkv, L, Dv)
        return new CacheView(k.MoveToOuterDisposeScope(), v.MoveToOuterDisposeScope());
    }

    /// <summary>The held tokens as a view of the pool when every row is one run of consecutive pages, evenly spaced across rows; else null.</summary>
    private CacheView? ContiguousView()
    {
        if (length == 0) return null;
        int bs = pool.BlockSize, blocks = (int)((length + bs - 1) / bs);
        long first = tables[0][0], step = tables.Length > 1 ? tables[1][0] - first : 0;
        if (step < 0) return null;
        for (int b = 0; b < tables.Length; b++)
        {
            var t = tables[b];
            if (t.Count < blocks || t[0] != first + b * step) return null;
            for (int i = 1; i < blocks; i++) if (t[i] != t[0] + i) return null;
        }
        long[] ps = pool.Keys.shape;
        long h = ps[2], d = ps[3], dv = pool.Values.shape[3];
        var k = pool.Keys.as_strided([tables.Length, h, length, d], [step * bs * h * d, d, h * d, 1], first * bs * h * d);     // (B, Hkv, L, D), in place
        var v = pool.Values.as_strided([tables.Length, h, length, dv], [step * bs * h * dv, dv, h * dv, 1], first * bs * h * dv); // (B, Hkv, L, Dv)
        return new CacheView(k, v);
    }

    /// <summary>
    /// A new one-row cache that starts with the first <paramref name="tokens"/> tokens of row <paramref name="row"/>
    /// (prefix sharing, step 4): it references the same pages, with no copy; a later write into a shared page copies it.
    /// </summary>
    public PagedCache Fork(int row = 0, long? tokens = null)
    {
        if (row < 0 || row >= Batch) throw new ArgumentException($"{nameof(row)}: expected 0 … {Batch - 1}, got {row}", nameof(row));
        long t = tokens ?? length;
        if (t < 0 || t > length) throw new ArgumentException($"{nameof(tokens)}: expected 0 … {length}, got {t}", nameof(tokens));
        var fork = new PagedCache(pool, 1) { length = t, Seen = t };
        int blocks = (int)((t + pool.BlockSize - 1) / pool.BlockSize);
        for (int i = 0; i < blocks; i++)
        {
            pool.Retain(tables[row][i]);                                                           // 4.
            fork.tables[0].Add(tables[row][i]);
        }
        return fork;
    }

    /// <inheritdoc/>
    public override void Crop(long length)
    {
        CheckCrop(length);
        int keep = (int)((length + pool.BlockSize - 1) / pool.BlockSize);
        foreach (var table in tables)
        {
            for (int i = keep; i < table.Count; i++) pool.Release(table[i]);                      // 4.
            table.RemoveRange(keep, table.Count - keep);
        }
        this.length = Seen = length;
    }

    /// <inheritdoc/>
    public override void Reorder(Tensor batchIndex)
    {
        CheckReorder(batchIndex, Batch, pool.Keys.device);
        var rows = batchIndex.cpu().data<long>().ToArray();
        var next = rows.Select(r => new List<int>(tables[r])).ToArray();
        foreach (var t in next) foreach (var p in t) pool.Retain(p);                               // 4. share, then drop the old tables
        foreach (var t in tables) foreach (var p in t) pool.Release(p);
        tables = next;
    }

    /// <inheritdoc/>
    public override void Reset()
    {
        foreach (var t in tables) { foreach (var p in t) pool.Release(p); t.Clear(); }
        length = Seen = 0;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing) => Reset();
}
