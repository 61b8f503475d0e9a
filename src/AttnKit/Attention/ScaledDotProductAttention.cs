using AttnKit.Attention.Masks;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention;

/// <summary>
/// Scaled dot-product attention. Vaswani et al., "Attention Is All You Need", 2017 (arXiv 1706.03762), eq. (1):
/// Attention(Q, K, V) = softmax(Q·Kᵀ / √d_k)·V.
///
/// Layout: q (B, Hq, Nq, D), k (B, Hkv, Nk, D), v (B, Hkv, Nk, Dv). Hq must be a multiple of Hkv: query head h
/// reads key/value head h / (Hq / Hkv), so multi-head (Hkv = Hq), grouped-query and multi-query (Hkv = 1)
/// attention are all this one call.
///
/// <see cref="Reference"/> is the plain dense float32 computation:
/// 1. scores s = q·kᵀ·scale (+ bias), scale = 1/√D unless given;
/// 2. s ← scoreMod(s), if any;
/// 3. s ← −∞ where the masks forbid;
/// 4. m = max_j s_ij (0 where the row is fully masked), e = exp(s − m), Z = Σ_j e_ij;
/// 5. weights p = e / Z, with p = 0 on a fully masked row (a query with nothing to attend to outputs zeros, not NaN);
/// 6. log-sum-exp = m + log Z (−∞ on a fully masked row), kept so partial attentions can be merged later;
/// 7. output o = p·v.
/// <see cref="Fused"/> calls libtorch's fused kernel (flash, memory-efficient or math, as libtorch picks) and gives
/// the same result where a call reduces to it: no score modifier, and neither weights nor log-sum-exp asked for.
/// Sliding-window, prefix-LM and packed-document masks take <see cref="StructuredMaskAttention"/>: a few fused calls over
/// the blocks the mask can reach, instead of a dense masked call.
/// <see cref="Compute"/> takes the fused path whenever it can.
/// </summary>
public static class ScaledDotProductAttention
{
    /// <summary>Whether <see cref="Fused"/> can compute a call with these options.</summary>
    public static bool CanFuse(AttentionOptions? options) =>
        options is null || (options.ScoreMod is null && !options.ReturnWeights && !options.ReturnLogSumExp);

    /// <summary>Attention by the fused path when the options allow it, else by the reference.</summary>
    public static AttentionResult Compute(Tensor q, Tensor k, Tensor v, AttentionOptions? options = null) =>
        CanFuse(options) ? new AttentionResult(Fused(q, k, v, options)) : Reference(q, k, v, options);

    /// <summary>The dense float32 reference (steps 1–7). The output has q's dtype.</summary>
    public static AttentionResult Reference(Tensor q, Tensor k, Tensor v, AttentionOptions? options = null)
    {
        options ??= AttentionOptions.None;
        var (groups, offset) = Validate(q, k, v, options);
        using var scope = torch.NewDisposeScope();
        var (qf, kf, vf) = (q.to(ScalarType.Float32), RepeatHeads(k.to(ScalarType.Float32), groups), RepeatHeads(v.to(ScalarType.Float32), groups));
        double scale = options.Scale ?? 1.0 / Math.Sqrt(q.shape[3]);

        var s = torch.matmul(qf, kf.transpose(-2, -1)) * scale;                         // 1. (B, H, Nq, Nk)
        if (options.Bias is not null) s = s + options.Bias.to(ScalarType.Float32);
        if (options.ScoreMod is not null) s = options.ScoreMod.Apply(s, offset);       // 2.
        var allowed = AllowedMask(q, k, options, offset);
        if (allowed is not null) s = s.masked_fill(allowed.logical_not(), double.NegativeInfinity); // 3.

        var m = s.amax([-1], keepdim: true);                                            // 4. (B, H, Nq, 1)
        m = torch.where(m.isfinite(), m, torch.zeros_like(m));
        var e = (s - m).exp();
        var z = e.sum(-1, keepdim: true);
        var p = e / torch.where(z.gt(0), z, torch.ones_like(z));                       // 5.
        var lse = (z.log() + m).squeeze(-1);                                           // 6. (B, H, Nq); log 0 = −∞
        var o = torch.matmul(p, vf).to(q.dtype);                                       // 7. (B, H, Nq, Dv)
        TensorMemory.Sample();                                                         // every intermediate is alive here: the peak, when measured

        return new AttentionResult(o, options.ReturnWeights ? p : null, options.ReturnLogSumExp ? lse : null).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The fused path: libtorch's scaled_dot_product_attention through <see cref="FusedKernels"/> (grouped key/value heads
    /// read in place, the scale inside the kernel). A causal mask with Nq = Nk becomes the kernel's causal flag, and
    /// one whose queries see every key (a decoding step) needs no mask; sliding-window, prefix-LM and document masks take
    /// <see cref="StructuredMaskAttention"/>; other masks and biases become the kernel's attn_mask; a fully masked query
    /// row gives zeros, as in the reference.
    /// </summary>
    /// <exception cref="ArgumentException">Bad inputs, or options the fused kernel cannot compute (see <see cref="CanFuse"/>).</exception>
    public static Tensor Fused(Tensor q, Tensor k, Tensor v, AttentionOptions? options = null)
    {
        options ??= AttentionOptions.None;
        var (groups, offset) = Validate(q, k, v, options);
        if (!CanFuse(options))
            throw new ArgumentException("options: the fused path cannot apply a score modifier or return weights or log-sum-exp; use Reference or Compute", nameof(options));
        long nq = q.shape[2], nk = k.shape[2];
        var kind = options.Mask?.Kind ?? MaskKind.Full;
        bool everyKeyVisible = kind == MaskKind.Full || (kind == MaskKind.Causal && offset >= nk - 1);
        if (options.MaskTensor is null && options.Bias is null && (everyKeyVisible || (kind == MaskKind.Causal && nq == nk && offset == 0)))
            return everyKeyVisible
                ? FusedKernels.Decode(q, k, v, options.Scale, groups, nq, nk)                   // one kernel output: no scope needed
                : FusedKernels.Sdpa(q, k, v, null, true, options.Scale, groups);
        using var scope = torch.NewDisposeScope();
        double? scale = options.Scale;

        var structured = StructuredMaskAttention.TryCompute(q, k, v, options, offset, (qq, kk, vv, causal, mask) => FusedKernels.Sdpa(qq, kk, vv, mask, causal, scale, groups));
        if (structured is not null) return structured.MoveToOuterDisposeScope();

        var allowed = AllowedMask(q, k, options, offset);                              // (B|1, H|1, Nq, Nk) or null
        Tensor? rowHasKey = allowed?.any(-1, keepdim: true);                            // (…, Nq, 1)
        Tensor? attnMask = null;
        if (allowed is not null)
            attnMask = allowed.logical_or(rowHasKey!.logical_not());                    // a fully masked row attends to all, then is zeroed
        if (options.Bias is not null)
        {
            var bias = options.Bias.to(q.dtype);
            attnMask = attnMask is null ? bias : bias.masked_fill(attnMask.logical_not(), double.NegativeInfinity);
        }
        var output = FusedKernels.Sdpa(q, k, v, attnMask, false, scale, groups);       // (B, Hq, Nq, Dv)
        if (rowHasKey is not null) output = output.masked_fill(rowHasKey.logical_not(), 0.0);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Repeats each key/value head <paramref name="groups"/> times along the head axis: (B, Hkv, N, D) → (B, Hkv·G, N, D).</summary>
    public static Tensor RepeatHeads(Tensor kv, long groups)
    {
        Check.Rank(kv, 4, nameof(kv), "(B, Hkv, N, D)");
        Check.Positive(groups, nameof(groups));
        return groups == 1 ? kv.alias() : kv.repeat_interleave(groups, dim: 1);
    }

    private static Tensor? AllowedMask(Tensor q, Tensor k, AttentionOptions options, long offset)
    {
        Tensor? allowed = options.Mask?.Kind == MaskKind.Full ? null
            : options.Mask?.Materialize(q.shape[0], q.shape[1], q.shape[2], k.shape[2], q.device, offset);
        if (options.MaskTensor is not null)
            allowed = allowed is null ? options.MaskTensor : allowed.logical_and(options.MaskTensor);
        return allowed;
    }

    /// <summary>
    /// Ranks, dtypes and devices of q, k and v, each property read once (every read crosses into native code, and a
    /// decoding step is short enough for that to show); on any mismatch the individual checks run and throw their
    /// messages. Returns the three shapes.
    /// </summary>
    private static (long[] Q, long[] K, long[] V) Tensors(Tensor q, Tensor k, Tensor v)
    {
        if (q is { IsInvalid: false } && k is { IsInvalid: false } && v is { IsInvalid: false })
        {
            long[] qs = q.shape, ks = k.shape, vs = v.shape;
            var dt = q.dtype;
            var (dq, iq) = (q.device_type, q.device_index);
            if (qs.Length == 4 && ks.Length == 4 && vs.Length == 4
                && dt is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64
                && k.dtype == dt && v.dtype == dt && k.device_type == dq && k.device_index == iq && v.device_type == dq && v.device_index == iq)
                return (qs, ks, vs);
        }
        Check.Rank(q, 4, nameof(q), "(B, Hq, Nq, D)");
        Check.Rank(k, 4, nameof(k), "(B, Hkv, Nk, D)");
        Check.Rank(v, 4, nameof(v), "(B, Hkv, Nk, Dv)");
        Check.FloatingPoint(q, nameof(q));
        Check.SameDType(q, nameof(q), k, nameof(k));
        Check.SameDType(q, nameof(q), v, nameof(v));
        Check.SameDevice(q, nameof(q), k, nameof(k));
        Check.SameDevice(q, nameof(q), v, nameof(v));
        return (q.shape, k.shape, v.shape);
    }

    /// <summary>Checks every argument; returns the query-group size Hq/Hkv and the query offset. Reads each shape once.</summary>
    internal static (long Groups, long Offset) Validate(Tensor q, Tensor k, Tensor v, AttentionOptions options)
    {
        var (qs, ks, vs) = Tensors(q, k, v);
        Check.Dim(ks, 0, qs[0], nameof(k), "batch B like q");
        Check.Dim(vs, 0, qs[0], nameof(v), "batch B like q");
        Check.Dim(vs, 1, ks[1], nameof(v), "key/value heads Hkv like k");
        Check.Dim(ks, 3, qs[3], nameof(k), "head dim D like q");
        Check.Dim(vs, 2, ks[2], nameof(v), "tokens Nk like k");
        foreach (var (name, shape) in new[] { (nameof(q), qs), (nameof(k), ks), (nameof(v), vs) })
            if (shape.Contains(0)) throw new ArgumentException($"{name}: every dimension must be at least 1, got shape ({string.Join(", ", shape)})", name);
        long hq = qs[1], hkv = ks[1];
        if (hq % hkv != 0)
            throw new ArgumentException($"k: the {hq} query heads must be a multiple of the {hkv} key/value heads (q ({string.Join(", ", qs)}), k ({string.Join(", ", ks)}))", nameof(k));
        if (options.Scale is double s) Check.PositiveFinite(s, "options.Scale");
        long offset = options.QueryOffset ?? ks[2] - qs[2];
        if (offset < 0)
            throw new ArgumentException(options.QueryOffset is null
                ? $"options.QueryOffset: there are more queries ({qs[2]}) than keys ({ks[2]}); give QueryOffset for the first query's position"
                : $"options.QueryOffset: expected zero or more, got {offset}", "options");
        if (options.MaskTensor is null && options.Bias is null) return (hq / hkv, offset);
        var full = new[] { qs[0], hq, qs[2], ks[2] };
        if (options.MaskTensor is Tensor mt)
        {
            Check.NotNull(mt, "options.MaskTensor");
            Check.Bool(mt, "options.MaskTensor");
            Check.SameDevice(q, nameof(q), mt, "options.MaskTensor");
            Check.BroadcastsTo(mt, full, "options.MaskTensor", "(B, Hq, Nq, Nk)");
        }
        if (options.Bias is Tensor bias)
        {
            Check.NotNull(bias, "options.Bias");
            Check.FloatingPoint(bias, "options.Bias");
            Check.SameDevice(q, nameof(q), bias, "options.Bias");
            Check.BroadcastsTo(bias, full, "options.Bias", "(B, Hq, Nq, Nk)");
        }
        return (hq / hkv, offset);
    }
}
