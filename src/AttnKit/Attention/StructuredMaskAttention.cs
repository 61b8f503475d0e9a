using AttnKit.Attention.Masks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention;

/// <summary>
/// Fast paths for masks whose structure lets attention skip what they forbid, instead of handing the fused kernel a
/// dense N×N mask (which makes it compute every position and rules out the flash kernel). Each splits the work into
/// a few fused calls over exactly the blocks the mask can reach; all are tested against the reference.
///
/// Sliding window w (Beltagy et al., "Longformer", 2020, arXiv 2004.05150; causal form as in Mistral 7B): on CUDA in
/// bf16/fp16, one call of flash attention with its own window (<see cref="FusedKernels.FlashWindow"/>: the kernel visits
/// only the key blocks the window reaches, as FlexAttention's block mask does); elsewhere
/// 1. cut the queries into blocks of w tokens;
/// 2. a block [s, e) can only see keys [s − w + 1, e): one fused call per block over that key range, with the small
///    window mask of the block (the same for every full block); about 2·N·w scores instead of N²;
/// 3. concatenate the blocks' outputs.
/// Prefix-LM with prefix P (Raffel et al., T5, 2019, arXiv 1910.10683):
/// 1. queries after the prefix attend causally, and a causal query already sees the whole prefix: one causal fused call;
/// 2. the P prefix queries attend to the P prefix keys without a mask: one small fused call;
/// 3. take rows [0, P) from 2 and the rest from 1.
/// Packed documents with a causal mask:
/// 1. read the document boundaries (the same for every batch row, each document one contiguous run, else no fast path;
///    the ids are read to the host once per mask, so a call does not wait for the GPU);
/// 2. one causal fused call per document; 3. concatenate.
/// </summary>
internal static class StructuredMaskAttention
{
    /// <summary>Self-attention with Nq = Nk, offset 0, a structured mask, no other mask or bias; else null (use the dense path).</summary>
    public static Tensor? TryCompute(Tensor q, Tensor k, Tensor v, AttentionOptions options, long offset, Func<Tensor, Tensor, Tensor, bool, Tensor, Tensor> sdpa)
    {
        var mask = options.Mask;
        if (mask is null || options.MaskTensor is not null || options.Bias is not null || offset != 0 || q.shape[2] != k.shape[2]) return null;
        long n = q.shape[2];
        return mask.Kind switch
        {
            MaskKind.SlidingWindow when mask.Size < n => Window(q, k, v, mask, n, options.Scale, sdpa),
            MaskKind.Prefix when mask.Size > 0 && mask.Size < n => Prefix(q, k, v, mask.Size, sdpa),
            MaskKind.DocumentCausal when mask.DocumentRow?.Value is { } row => Documents(q, k, v, row, sdpa),
            _ => null,
        };
    }

    private static Tensor Window(Tensor q, Tensor k, Tensor v, AttentionMask mask, long n, double? scale, Func<Tensor, Tensor, Tensor, bool, Tensor, Tensor> sdpa)
    {
        long w = mask.Size;
        if (FusedKernels.FlashWindow(q, k, v, w, scale) is var (output, lse))                 // CUDA, bf16/fp16: the kernel's own window
        {
            lse.Dispose();
            return output;
        }
        var blocks = new List<Tensor>();
        var masks = new Dictionary<(long, long), Tensor>();
        for (long s = 0; s < n; s += w)                                               // 1.
        {
            long e = Math.Min(s + w, n), ks = Math.Max(0, s - w + 1);
            var key = (e - s, e - ks);
            if (!masks.TryGetValue(key, out var m))                                       // the mask is shift-invariant: one per block shape
                masks[key] = m = mask.Materialize(1, 1, e - s, e - ks, q.device, queryOffset: s - ks);
            blocks.Add(sdpa(q.narrow(2, s, e - s), k.narrow(2, ks, e - ks), v.narrow(2, ks, e - ks), false, m)); // 2. (B, H, e − s, Dv)
        }
        return torch.cat(blocks, 2);                                                      // 3. (B, H, N, Dv)
    }

    private static Tensor Prefix(Tensor q, Tensor k, Tensor v, long p, Func<Tensor, Tensor, Tensor, bool, Tensor, Tensor> sdpa)
    {
        var causal = sdpa(q, k, v, true, null!);                                           // 1. (B, H, N, Dv)
        var prefix = sdpa(q.narrow(2, 0, p), k.narrow(2, 0, p), v.narrow(2, 0, p), false, null!); // 2. (B, H, P, Dv)
        return torch.cat([prefix, causal.narrow(2, p, q.shape[2] - p)], 2);                // 3.
    }

    private static Tensor? Documents(Tensor q, Tensor k, Tensor v, long[] first, Func<Tensor, Tensor, Tensor, bool, Tensor, Tensor> sdpa)
    {
        long n = q.shape[2];
        if (first.Length < n) return null;                                                  // 1. the ids' shared row, read once per mask
        var runs = new List<(long Start, long Length)>();
        var seen = new HashSet<long>();
        for (long s = 0; s < n;)
        {
            long e = s + 1;
            while (e < n && first[e] == first[s]) e++;
            if (!seen.Add(first[s])) return null;                                          // a document in two runs: not contiguous
            runs.Add((s, e - s));
            s = e;
        }
        var outs = runs.Select(r => sdpa(q.narrow(2, r.Start, r.Length), k.narrow(2, r.Start, r.Length), v.narrow(2, r.Start, r.Length), true, null!)).ToList(); // 2.
        return torch.cat(outs, 2);                                                        // 3.
    }
}
