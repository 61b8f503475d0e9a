using AttnKit.Attention;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// StreamingLLM's read of a sinks-plus-window cache with positions within the cache. Xiao et al., "Efficient Streaming
/// Language Models with Attention Sinks", 2023 (arXiv 2309.17453), §3.2: "when determining the relative distance and
/// adding positional information to tokens, StreamingLLM focuses on positions within the cache rather than those in
/// the original text". For a query at position p over S sinks and a window of W tokens its rank is r = min(p, S + W − 1);
/// a window key keeps its distance in the text (its rank minus r equals its position minus p), and sink i is at
/// distance r − i. RoPE scores depend only on the distance, so with keys stored rotated at their positions:
/// 1. the window keys are read by the query rotated at p (q);
/// 2. the sinks (the first S keys) by the query rotated at r (sinkQueries);
/// 3. one softmax over both: a single fused call whose head dimension holds both query rotations, [q, q_r]·[k, 0]ᵀ
///    for window keys and [q, q_r]·[0, k]ᵀ for sinks (any mask, gradients, weights). (Two fused calls with their
///    log-sum-exp merged give the same, and measured slower on the H200 machine: more calls for the host to issue.)
/// The authors' code re-rotates every cached key at every step instead; the scores are the same.
/// </summary>
public static class StreamingLlmAttention
{
    /// <summary>
    /// Steps 1–3. q and sinkQueries (B, Hq, n, D), k (B, Hkv, L, D) with the sinks first, v (B, Hkv, L, Dv);
    /// <paramref name="allowed"/> a boolean mask broadcasting to (B, Hq, n, L) or null (every key visible);
    /// <paramref name="scale"/> null: 1/√D.
    /// </summary>
    public static AttentionResult Attend(Tensor q, Tensor sinkQueries, Tensor k, Tensor v, long sinks, Tensor? allowed = null, double? scale = null, bool returnWeights = false)
    {
        Core.Check.NotNull(sinkQueries, nameof(sinkQueries));
        Core.Check.NonNegative(sinks, nameof(sinks));
        var (groups, _) = ScaledDotProductAttention.Validate(q, k, v, new AttentionOptions { QueryOffset = 0 });
        if (!q.shape.SequenceEqual(sinkQueries.shape))
            throw new ArgumentException($"{nameof(sinkQueries)}: expected the shape of q ({string.Join(", ", q.shape)}), got ({string.Join(", ", sinkQueries.shape)})", nameof(sinkQueries));
        long l = k.shape[2], s = Math.Min(sinks, l), d = q.shape[3];
        double sc = scale ?? 1.0 / Math.Sqrt(d);
        using var scope = torch.NewDisposeScope();
        var both = torch.cat([q, sinkQueries], -1);                                       // (B, Hq, n, 2D)
        var parts = new List<Tensor>();                                                    // (B, Hkv, L, 2D): [0, k] for sinks, [k, 0] for the window
        if (s > 0) { var ks = k.narrow(2, 0, s); parts.Add(torch.cat([torch.zeros_like(ks), ks], -1)); }
        if (s < l) { var kw = k.narrow(2, s, l - s); parts.Add(torch.cat([kw, torch.zeros_like(kw)], -1)); }
        var keys = parts.Count == 1 ? parts[0] : torch.cat(parts, 2);
        var options = new AttentionOptions { Scale = sc, MaskTensor = allowed, ReturnWeights = returnWeights };
        return ScaledDotProductAttention.Compute(both, keys, v, options).MoveToOuterDisposeScope();
    }
}
