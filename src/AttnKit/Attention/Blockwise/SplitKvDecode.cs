using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Blockwise;

/// <summary>
/// Split-KV decoding (Flash-Decoding): Dao, Haziza, Massa and Sizov, "Flash-Decoding for long-context inference",
/// 2023 (PyTorch/Stanford CRFM write-up); the same split-and-reduce as FlashDecoding++ (Hong et al., 2023, arXiv
/// 2311.01282) without its unified-max trick. A decoding step has one query per head and a long cache: one fused
/// call over the whole cache gives the GPU only B·Hkv units of work, each sweeping every key. Splitting the cache's
/// tokens into C chunks gives B·Hkv·C units; each returns its chunk's output and log-sum-exp, and the log-sum-exp
/// merge (<see cref="LogSumExpMerge"/>) makes the exact result.
/// 1. split the L cached tokens into chunks: C equal chunks of ⌊L/C⌋ tokens read as one strided view of the cache
///    (no copy), plus the L mod C tokens left over as one more chunk;
/// 2. per chunk c, fused attention with log-sum-exp of each query group over the chunk: o_c, ℓ_c
///    (<see cref="FusedKernels.AttentionWithLogSumExp"/>; the equal chunks are one kernel call, as heads of one batch);
/// 3. merge: ℓ = log Σ_c exp ℓ_c, o = Σ_c exp(ℓ_c − ℓ)·o_c.
/// Queries see every key (a decoding step over the cache, or any unmasked call); grouped key/value heads are served
/// by folding each group's queries into the call, as the kernel needs equal head counts. Forward only: the
/// log-sum-exp kernels do not differentiate ℓ. Whether it beats one fused call is a measurement (<c>bench --suite decode</c>):
/// libtorch's flash kernel already splits long caches on CUDA.
/// </summary>
public static class SplitKvDecode
{
    /// <summary>Attention of q (B, Hq, Nq, D) over every key of k (B, Hkv, L, D), v (B, Hkv, L, Dv) in <paramref name="chunks"/> splits (steps 1–3): (B, Hq, Nq, Dv) in q's dtype.</summary>
    public static Tensor Compute(Tensor q, Tensor k, Tensor v, int chunks, double? scale = null)
    {
        using var result = ComputeWithLogSumExp(q, k, v, chunks, scale);
        return result.Output.to(q.dtype);
    }

    /// <summary>As <see cref="Compute"/>, with the merged log-sum-exp: output (B, Hq, Nq, Dv) float32, log-sum-exp (B, Hq, Nq) float32.</summary>
    public static PartialAttention ComputeWithLogSumExp(Tensor q, Tensor k, Tensor v, int chunks, double? scale = null)
    {
        Check.Positive(chunks, nameof(chunks));
        ScaledDotProductAttention.Validate(q, k, v, new AttentionOptions { Scale = scale });
        long[] qs = q.shape, ks = k.shape, ss = k.stride();
        var (b, hq, nq, d) = (qs[0], qs[1], qs[2], qs[3]);
        var (hkv, l, dv) = (ks[1], ks[2], v.shape[3]);
        if (chunks > l)
            throw new ArgumentException($"{nameof(chunks)}: expected at most the {l} cached tokens, got {chunks}", nameof(chunks));
        long g = hq / hkv, lc = l / chunks, rest = l - lc * chunks;
        using var scope = torch.NewDisposeScope();
        var qg = q.reshape(b * hkv, 1, g * nq, d);                                              // (B·Hkv, 1, G·Nq, D): a group's queries in one call
        var outs = new List<Tensor>();
        var lses = new List<Tensor>();
        var (o, lse) = FusedKernels.AttentionWithLogSumExp(                                      // 2. C equal chunks, one call
            qg.expand(b * hkv, chunks, g * nq, d).contiguous(), Chunks(k, b, hkv, chunks, lc), Chunks(v, b, hkv, chunks, lc), false, scale);
        outs.Add(o); lses.Add(lse);                                                             //    (B·Hkv, C, G·Nq, Dv), (B·Hkv, C, G·Nq)
        if (rest > 0)
        {
            var (ro, rl) = FusedKernels.AttentionWithLogSumExp(qg,
                k.narrow(2, lc * chunks, rest).reshape(b * hkv, 1, rest, d), v.narrow(2, lc * chunks, rest).reshape(b * hkv, 1, rest, dv), false, scale);
            outs.Add(ro); lses.Add(rl);                                                         //    the leftover chunk: (B·Hkv, 1, G·Nq, Dv)
        }
        var (output, merged) = LogSumExpMerge.MergeAlong(torch.cat(outs, 1), torch.cat(lses, 1), dim: 1); // 3. (B·Hkv, G·Nq, Dv), (B·Hkv, G·Nq)
        return new PartialAttention(output.reshape(b, hq, nq, dv), merged.reshape(b, hq, nq)).MoveToOuterDisposeScope();
    }

    /// <summary>Step 1: the first C·Lc tokens of x (B, H, L, D) as (B·H, C, Lc, D), a strided view when the rows of x are evenly spaced (a contiguous or narrowed cache), else a copy.</summary>
    private static Tensor Chunks(Tensor x, long b, long h, long chunks, long lc)
    {
        long[] st = x.stride();
        long dx = x.shape[3];
        if (st[3] == 1 && (b == 1 || st[0] == h * st[1]))
            return x.as_strided([b * h, chunks, lc, dx], [st[1], lc * st[2], st[2], 1], x.storage_offset()); // (B·H, C, Lc, D), no copy
        return x.narrow(2, 0, chunks * lc).reshape(b * h, chunks, lc, dx);                     // (B·H, C, Lc, D), copied
    }
}
