using AttnKit.Attention.Blockwise;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Parallel;

/// <summary>The result of Ring Self-Attention: the output, and the score matrix each shard had to hold.</summary>
public sealed class RingSelfAttentionResult : IDisposable
{
    /// <summary>(B, Hq, N, Dv) on q's device, q's dtype.</summary>
    public Tensor Output { get; }
    /// <summary>Bytes of the (N/P × N) score and weight rows one shard holds at once (B·H·N/P·N float32, twice).</summary>
    public long ScoreBytesPerShard { get; }
    /// <summary>What was sent, step by step: keys in the first ring, values in the second.</summary>
    public IReadOnlyList<Transfer> Transfers { get; }

    internal RingSelfAttentionResult(Tensor output, long scoreBytes, IReadOnlyList<Transfer> transfers) => (Output, ScoreBytesPerShard, Transfers) = (output, scoreBytes, transfers);

    /// <inheritdoc/>
    public void Dispose() => Output.Dispose();
}

/// <summary>
/// Ring Self-Attention, the attention of sequence parallelism. Li et al., "Sequence Parallelism: Long Sequence Training
/// from System Perspective", 2021 (arXiv 2105.13120), §3.2 and Figure 2. Each shard keeps a contiguous block of the
/// sequence. Keys travel once around the ring so that each shard can build its full rows of scores, N/P × N; then
/// values travel once around so that each shard can weight them. Unlike <see cref="RingAttention"/> it materializes the
/// shard's score rows (memory O(N²/P) per shard) and passes the ring twice, because it predates the blockwise
/// log-sum-exp merge; it is exact all the same.
/// 1. shard s holds Q_s, K_s, V_s (tokens s·N/P … (s+1)·N/P − 1);
/// 2. first ring, P steps: at step t shard s holds K of shard b = (s − t) mod P and computes S_s[:, b] = Q_s·K_bᵀ·scale
///    (score modifier and mask at absolute positions); then passes K on to s + 1;
/// 3. A_s = softmax of the full rows S_s (a row with no allowed key gives zeros);
/// 4. second ring, P steps: at step t shard s holds V_b and adds A_s[:, b]·V_b to its output; then passes V on;
/// 5. gather the outputs.
/// </summary>
public static class RingSelfAttention
{
    /// <summary>Self-attention by Ring Self-Attention (steps 1–5) over <paramref name="group"/>, contiguous blocks.</summary>
    public static RingSelfAttentionResult Forward(Tensor q, Tensor k, Tensor v, ShardGroup group, BlockwiseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(group);
        options ??= BlockwiseOptions.None;
        Check.Rank(q, 4, nameof(q), "(B, Hq, N, D)");
        var layout = new ContiguousLayout(q.shape[2], group.Count);
        var scale = RingAttention.ValidateRing(q, k, v, group, layout, options);
        int p = group.Count;
        int firstLog = group.Log.Count;
        using var scope = torch.NewDisposeScope();
        long n = layout.Tokens / p;
        var qs = new Tensor[p]; var cur = new Tensor[p]; var pos = new Tensor[p];
        var blocks = new Tensor[p, p];                                                      // [shard, key block] scores (B, Hq, N/P, N/P)
        for (int s = 0; s < p; s++)                                                         // 1.
        {
            qs[s] = layout.Take(q, s).to(group.Devices[s]);
            cur[s] = layout.Take(k, s).to(group.Devices[s]);
            pos[s] = AttentionTile.Range(s * n, n, group.Devices[s]);
        }
        for (int t = 0; t < p; t++)                                                         // 2.
        {
            for (int s = 0; s < p; s++)
            {
                int b = ((s - t) % p + p) % p;
                var kPos = AttentionTile.Range(b * n, n, group.Devices[s]);
                var sc = AttentionTile.RawScores(qs[s], cur[s], scale);                     // (B, Hq, N/P, N/P)
                if (options.ScoreMod is not null) sc = AttentionTile.Modify(sc, pos[s], kPos, options.ScoreMod);
                if (options.Mask is not null) sc = AttentionTile.MaskScores(sc, pos[s], kPos, options.Mask);
                blocks[s, b] = sc;
            }
            if (t < p - 1) cur = Pass(group, cur, t, "k block");
        }
        var weights = new Tensor[p];
        long scoreBytes = 0;
        for (int s = 0; s < p; s++)                                                         // 3.
        {
            var row = torch.cat(Enumerable.Range(0, p).Select(b => blocks[s, b]).ToArray(), 3);  // (B, Hq, N/P, N)
            var m = row.amax([-1], keepdim: true);
            m = torch.where(m.isfinite(), m, torch.zeros_like(m));
            var e = (row - m).exp();
            var z = e.sum(-1, keepdim: true);
            weights[s] = e / torch.where(z.gt(0), z, torch.ones_like(z));
            scoreBytes = Math.Max(scoreBytes, TensorMemory.StorageBytes(row) + TensorMemory.StorageBytes(weights[s]));
        }
        TensorMemory.Sample();
        var outputs = new Tensor[p];
        for (int s = 0; s < p; s++) cur[s] = layout.Take(v, s).to(group.Devices[s]);
        for (int t = 0; t < p; t++)                                                         // 4.
        {
            for (int s = 0; s < p; s++)
            {
                int b = ((s - t) % p + p) % p;
                var contribution = AttentionTile.GroupedMatmul(weights[s].narrow(3, b * n, n), cur[s]);  // (B, Hq, N/P, Dv)
                outputs[s] = outputs[s] is null ? contribution : outputs[s] + contribution;
            }
            if (t < p - 1) cur = Pass(group, cur, p + t, "v block");
        }
        var output = layout.Assemble(outputs.Select(o => o.to(q.dtype)).ToList(), q.device);   // 5. (B, Hq, N, Dv)
        return new RingSelfAttentionResult(output.MoveToOuterDisposeScope(), scoreBytes, group.Log.Skip(firstLog).ToList());
    }

    private static Tensor[] Pass(ShardGroup group, Tensor[] cur, int step, string what)
    {
        int p = cur.Length;
        var next = new Tensor[p];
        for (int s = 0; s < p; s++) next[(s + 1) % p] = group.Send(cur[s], s, (s + 1) % p, step, what);
        return next;
    }
}
