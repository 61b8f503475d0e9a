using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Masks;

/// <summary>
/// A mask as a function of (batch, head, queryIndex, keyIndex) → bool, true where the query may attend to
/// the key, in the style of PyTorch's FlexAttention <c>mask_mod</c>. The function is evaluated on broadcast
/// index tensors: batch (B, 1, 1, 1), head (1, H, 1, 1), query (1, 1, Nq, 1), key (1, 1, 1, Nk), all int64,
/// and returns a boolean tensor that broadcasts to (B, H, Nq, Nk). A mask that ignores batch or head returns a
/// size-1 dimension there, and stays that small.
/// </summary>
public delegate Tensor MaskFunction(Tensor batch, Tensor head, Tensor query, Tensor key);

/// <summary>
/// A named, composable attention mask (<see cref="MaskFunction"/>). Combine with <see cref="And"/>, <see cref="Or"/>,
/// <see cref="Not"/> (or <c>&amp;</c>, <c>|</c>, <c>!</c>); materialize with <see cref="Materialize"/>; draw with <see cref="ToMatrix"/>.
///
/// Positions are absolute. Keys are at 0..Nk-1; queries are at <c>queryOffset</c>..<c>queryOffset</c>+Nq-1, where
/// <c>queryOffset</c> defaults to Nk - Nq: the queries are the last Nq tokens of the sequence, which is what
/// self-attention over a KV cache needs (bottom-right alignment). Note that PyTorch's <c>is_causal</c> flag aligns
/// top-left instead; the two agree when Nq = Nk.
/// </summary>
public sealed class AttentionMask
{
    /// <summary>A readable name, e.g. "causal &amp; window(4)".</summary>
    public string Name { get; }

    /// <summary>The mask function.</summary>
    public MaskFunction Function { get; }

    /// <summary>What the mask is known to be, so the fused path can use a flag, or smaller calls, instead of a matrix.</summary>
    internal MaskKind Kind { get; }

    /// <summary>For <see cref="MaskKind.SlidingWindow"/>: the window; for <see cref="MaskKind.Prefix"/>: the prefix length.</summary>
    internal long Size { get; init; }

    /// <summary>For <see cref="MaskKind.DocumentCausal"/>: the document ids (B, N).</summary>
    internal Tensor? Documents { get; init; }

    /// <summary>
    /// For <see cref="MaskKind.DocumentCausal"/>: the first row of the document ids when every row equals it, else null;
    /// read from the device once, when the fused path first needs it, so a call does not wait for the GPU. The ids are
    /// the mask's: changed in place afterwards, the fused path would not see it (make a new mask for new ids).
    /// </summary>
    internal Lazy<long[]?>? DocumentRow { get; init; }

    /// <summary>Makes a mask from a function.</summary>
    public AttentionMask(string name, MaskFunction function) : this(name, function, MaskKind.General) { }

    internal AttentionMask(string name, MaskFunction function, MaskKind kind)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(function);
        (Name, Function, Kind) = (name, function, kind);
    }

    /// <summary>Allowed where both masks allow.</summary>
    public AttentionMask And(AttentionMask other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var kind = (Kind, other.Kind) switch
        {
            (MaskKind.Document, MaskKind.Causal) or (MaskKind.Causal, MaskKind.Document) => MaskKind.DocumentCausal,
            (MaskKind.Full, var k) => k,
            (var k, MaskKind.Full) => k,
            _ => MaskKind.General,
        };
        var source = Kind == MaskKind.Full ? other : this;
        return new($"({Name} & {other.Name})", (b, h, q, k) => Function(b, h, q, k).logical_and(other.Function(b, h, q, k)), kind)
        {
            Size = source.Size,
            Documents = Documents ?? other.Documents,
            DocumentRow = DocumentRow ?? other.DocumentRow,
        };
    }

    /// <summary>Allowed where either mask allows.</summary>
    public AttentionMask Or(AttentionMask other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return new($"({Name} | {other.Name})", (b, h, q, k) => Function(b, h, q, k).logical_or(other.Function(b, h, q, k)));
    }

    /// <summary>Allowed where this mask forbids.</summary>
    public AttentionMask Not() => new($"!{Name}", (b, h, q, k) => Function(b, h, q, k).logical_not());

    /// <summary>Same as <see cref="And"/>.</summary>
    public static AttentionMask operator &(AttentionMask a, AttentionMask b) => a.And(b);
    /// <summary>Same as <see cref="Or"/>.</summary>
    public static AttentionMask operator |(AttentionMask a, AttentionMask b) => a.Or(b);
    /// <summary>Same as <see cref="Not"/>.</summary>
    public static AttentionMask operator !(AttentionMask a) => a.Not();

    /// <summary>
    /// Evaluates the mask into a boolean tensor of shape (B or 1, H or 1, Nq, Nk): size 1 where the mask does not
    /// depend on batch or head.
    /// </summary>
    /// <param name="batch">B ≥ 1.</param>
    /// <param name="heads">H ≥ 1 (query heads).</param>
    /// <param name="queries">Nq ≥ 1.</param>
    /// <param name="keys">Nk ≥ 1.</param>
    /// <param name="device">Where to build it; the kit's device when null.</param>
    /// <param name="queryOffset">Absolute position of the first query; Nk - Nq when null (see the class remarks).</param>
    public Tensor Materialize(long batch, long heads, long queries, long keys, Device? device = null, long? queryOffset = null)
    {
        Check.Positive(batch, nameof(batch));
        Check.Positive(heads, nameof(heads));
        Check.Positive(queries, nameof(queries));
        Check.Positive(keys, nameof(keys));
        long offset = queryOffset ?? keys - queries;
        if (offset < 0) throw new ArgumentException($"{nameof(queryOffset)}: expected zero or more, got {offset} (with the default, there are more queries ({queries}) than keys ({keys}); give queryOffset)", nameof(queryOffset));
        device ??= Kit.Device;
        using var scope = torch.NewDisposeScope();
        var b = torch.arange(batch, ScalarType.Int64, device).view(batch, 1, 1, 1);
        var h = torch.arange(heads, ScalarType.Int64, device).view(1, heads, 1, 1);
        var q = torch.arange(offset, offset + queries, 1, ScalarType.Int64, device).view(1, 1, queries, 1);
        var k = torch.arange(keys, ScalarType.Int64, device).view(1, 1, 1, keys);
        var m = Function(b, h, q, k);
        if (m is null || m.dtype != ScalarType.Bool)
            throw new ArgumentException($"mask '{Name}': the mask function must return a boolean tensor, got {(m is null ? "null" : m.dtype.ToString())}");
        if (m.dim() > 4) throw new ArgumentException($"mask '{Name}': the mask function returned a {m.dim()}-D tensor; expected one that broadcasts to (B, H, Nq, Nk)");
        while (m.dim() < 4) m = m.unsqueeze(0);
        var full = new[] { batch, heads, queries, keys };
        Check.BroadcastsTo(m, full, $"mask '{Name}'", "(B, H, Nq, Nk)");
        // keep batch and head at 1 where the mask ignores them; queries and keys are always full
        var shape = new[] { m.shape[0], m.shape[1], queries, keys };
        return m.expand(shape).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The mask as a 2-D (Nq, Nk) boolean matrix for one batch element and head: for pictures and tests.</summary>
    public Tensor ToMatrix(long queries, long keys, long batch = 0, long head = 0, long? queryOffset = null)
    {
        Check.NonNegative(batch, nameof(batch));
        Check.NonNegative(head, nameof(head));
        using var scope = torch.NewDisposeScope();
        var m = Materialize(batch + 1, head + 1, queries, keys, torch.CPU, queryOffset);
        return m[m.shape[0] == 1 ? 0 : batch, m.shape[1] == 1 ? 0 : head].clone().MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}

/// <summary>What the fused path may know about a mask.</summary>
internal enum MaskKind
{
    General,
    Full,
    Causal,
    SlidingWindow,
    Prefix,
    Document,
    DocumentCausal,
}
