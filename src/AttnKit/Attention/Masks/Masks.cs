using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Masks;

/// <summary>
/// The built-in masks, each a small <see cref="AttentionMask"/> over absolute positions (true = may attend).
/// Combine them: <c>Masks.Document(ids) &amp; Masks.Causal</c>.
/// </summary>
public static class Masks
{
    /// <summary>Every query sees every key.</summary>
    public static AttentionMask Full { get; } = new("full", (b, h, q, k) => torch.ones_like(q.eq(k), ScalarType.Bool), MaskKind.Full);

    /// <summary>
    /// Causal (autoregressive) mask: query i sees keys 0..i. Vaswani et al., "Attention Is All You Need", 2017
    /// (arXiv 1706.03762), section 3.2.3: the decoder masks out illegal connections to later positions.
    /// </summary>
    public static AttentionMask Causal { get; } = new("causal", (b, h, q, k) => q.ge(k), MaskKind.Causal);

    /// <summary>
    /// Sliding window: query i sees the <paramref name="window"/> keys ending at i (keys i-window+1..i), or, with
    /// <paramref name="causal"/> false, keys within distance window-1 on both sides. Beltagy et al., "Longformer:
    /// The Long-Document Transformer", 2020 (arXiv 2004.05150); Mistral 7B uses the causal form.
    /// </summary>
    public static AttentionMask SlidingWindow(long window, bool causal = true)
    {
        Check.Positive(window, nameof(window));
        return causal
            ? new($"window({window})", (b, h, q, k) => q.ge(k).logical_and((q - k).lt(window)), MaskKind.SlidingWindow) { Size = window }
            : new($"window(±{window - 1})", (b, h, q, k) => (q - k).abs().lt(window));
    }

    /// <summary>
    /// Prefix-LM: every query sees the first <paramref name="prefixLength"/> tokens (bidirectional prefix), and is
    /// causal after it. Raffel et al., "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
    /// Transformer" (T5), 2019 (arXiv 1910.10683), section 3.2.1.
    /// </summary>
    public static AttentionMask PrefixLM(long prefixLength)
    {
        Check.NonNegative(prefixLength, nameof(prefixLength));
        return new($"prefix({prefixLength})", (b, h, q, k) => k.lt(prefixLength).logical_or(q.ge(k)), MaskKind.Prefix) { Size = prefixLength };
    }

    /// <summary>
    /// Prefix-LM with a prefix length per batch element: <paramref name="prefixLengths"/> is an int64 tensor (B).
    /// </summary>
    public static AttentionMask PrefixLM(Tensor prefixLengths)
    {
        Check.Rank(prefixLengths, 1, nameof(prefixLengths), "(B)");
        if (prefixLengths.dtype != ScalarType.Int64) throw new ArgumentException($"{nameof(prefixLengths)}: expected an int64 tensor, got {prefixLengths.dtype}", nameof(prefixLengths));
        return new("prefix(per batch)", (b, h, q, k) =>
        {
            CheckBatch(b, prefixLengths.shape[0], nameof(prefixLengths));
            return k.lt(prefixLengths.to(k.device)[b]).logical_or(q.ge(k));
        });
    }

    /// <summary>
    /// Document (segment) mask for packed sequences: a query sees a key only in the same document.
    /// <paramref name="documentIds"/> is an int64 tensor (B, N) giving each absolute position's document; N must cover
    /// every query and key position. Combine with <see cref="Causal"/> for packed causal training.
    /// </summary>
    public static AttentionMask Document(Tensor documentIds)
    {
        Check.Rank(documentIds, 2, nameof(documentIds), "(B, N)");
        if (documentIds.dtype != ScalarType.Int64) throw new ArgumentException($"{nameof(documentIds)}: expected an int64 tensor, got {documentIds.dtype}", nameof(documentIds));
        return new("document", (b, h, q, k) =>
        {
            CheckBatch(b, documentIds.shape[0], nameof(documentIds));
            long n = documentIds.shape[1];
            long needed = Math.Max(q.max().item<long>(), k.max().item<long>()) + 1;
            if (needed > n) throw new ArgumentException($"{nameof(documentIds)}: covers {n} positions, but the attention reaches position {needed - 1}", nameof(documentIds));
            var ids = documentIds.to(q.device);
            var bq = b.expand(b.shape[0], 1, 1, 1);
            return ids[bq, q].eq(ids[bq, k]); // (B, 1, Nq, 1) == (B, 1, 1, Nk)
        }, MaskKind.Document) { Documents = documentIds, DocumentRow = new Lazy<long[]?>(() => SharedRow(documentIds)) };
    }

    /// <summary>The first row of ids (B, N) when every row equals it, else null (one copy to the host).</summary>
    private static long[]? SharedRow(Tensor ids)
    {
        using var scope = torch.NewDisposeScope();
        var rows = ids.cpu();
        return rows.eq(rows[0].unsqueeze(0)).all().item<bool>() ? rows[0].data<long>().ToArray() : null;
    }

    /// <summary>
    /// Dilated sliding window (causal): query i sees keys i, i-d, i-2d, ..., i-(window-1)·d, for dilation d.
    /// Beltagy et al., "Longformer", 2020 (arXiv 2004.05150), section 3.1 (dilated sliding window).
    /// </summary>
    public static AttentionMask DilatedWindow(long window, long dilation)
    {
        Check.Positive(window, nameof(window));
        Check.Positive(dilation, nameof(dilation));
        return new($"dilated({window}, d={dilation})", (b, h, q, k) =>
        {
            var d = q - k;
            return d.ge(0).logical_and(d.remainder(dilation).eq(0)).logical_and(d.lt(window * dilation));
        });
    }

    /// <summary>
    /// Attention sinks plus a recent window (causal): query i sees the first <paramref name="sinks"/> tokens and the
    /// <paramref name="window"/> keys ending at i. Xiao et al., "Efficient Streaming Language Models with Attention
    /// Sinks" (StreamingLLM), 2023 (arXiv 2309.17453).
    /// </summary>
    public static AttentionMask SinksAndWindow(long sinks, long window)
    {
        Check.NonNegative(sinks, nameof(sinks));
        Check.Positive(window, nameof(window));
        return new($"sinks({sinks}) + window({window})", (b, h, q, k) => q.ge(k).logical_and(k.lt(sinks).logical_or((q - k).lt(window))));
    }

    /// <summary>A mask given as a boolean tensor that broadcasts to (B, H, Nq, Nk), indexed by query row (0..Nq-1), not absolute position.</summary>
    public static AttentionMask FromTensor(Tensor allowed, string name = "tensor")
    {
        Check.NotNull(allowed, nameof(allowed));
        Check.Bool(allowed, nameof(allowed));
        if (allowed.dim() > 4) throw new ArgumentException($"{nameof(allowed)}: expected at most 4 dimensions (B, H, Nq, Nk), got shape {Check.Shape(allowed)}", nameof(allowed));
        return new(name, (b, h, q, k) =>
        {
            var m = allowed.to(q.device);
            while (m.dim() < 4) m = m.unsqueeze(0);
            if (m.shape[2] != q.shape[2] || m.shape[3] != k.shape[3])
                throw new ArgumentException($"{nameof(allowed)}: expected (…, {q.shape[2]}, {k.shape[3]}) for {q.shape[2]} queries and {k.shape[3]} keys, got {Check.Shape(allowed)}", nameof(allowed));
            return m;
        });
    }

    private static void CheckBatch(Tensor b, long have, string name)
    {
        if (b.shape[0] > have) throw new ArgumentException($"{name}: has {have} batch rows, but the attention has batch {b.shape[0]}", name);
    }
}
