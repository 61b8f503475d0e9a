using System.Collections.Concurrent;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention;

/// <summary>
/// The one place where the kit calls libtorch's fused attention kernels, including the ATen operators TorchSharp
/// 0.107 does not bind. TorchSharp's <c>scaled_dot_product_attention</c> has no <c>scale</c>, no <c>enable_gqa</c> and
/// returns no log-sum-exp; libtorch's own operators have all three, and TorchScript reaches them:
/// <c>torch.jit.compile</c> turns the constant script below into a compilation unit, once per process, at first use,
/// and <c>CompilationUnit.invoke</c> calls its functions. A TorchScript compile error can abort the process (a native
/// terminate, as seen with some errors on CUDA), so the source is constant, ends in a newline (the parser wants one) and a
/// test compiles it on every platform.
///
/// 1. <see cref="Attention"/>: <c>torch.scaled_dot_product_attention(q, k, v, mask, 0, causal, scale=, enable_gqa=True)</c>,
///    grouped key/value heads read in place (no repeat, no fold) and the scale applied inside the kernel;
/// 2. <see cref="AttentionWithLogSumExp"/>: the output and the per-query log-sum-exp ℓ = log Σ_j exp(s_j), from
///    <c>_scaled_dot_product_flash_attention_for_cpu</c> on the CPU, <c>_scaled_dot_product_cudnn_attention</c> (what
///    libtorch's SDPA itself runs on Hopper: 0.14 against FlashAttention-2's 0.27 ms for a 2k causal tile on the H200),
///    then <c>_scaled_dot_product_flash_attention</c> (bf16/fp16), or <c>_scaled_dot_product_efficient_attention</c>
///    (any float) on CUDA, grouped heads read in place where the kernel can: what split-KV decoding and the
///    kernel-speed tiled and ring forms merge with <see cref="Blockwise.LogSumExpMerge"/>; <see cref="FlashWindow"/>,
///    flash attention's own causal sliding window on CUDA;
/// 3. where an operator is missing (an older libtorch, a dtype a kernel refuses), the call falls back to TorchSharp's
///    binding (1) or to a dense float32 computation (2), once per device and dtype, and <see cref="Implementations"/>
///    says which ran (the runner's <c>doctor</c> prints it);
/// 4. <see cref="RmsNorm"/>, <see cref="Rotary"/> and <see cref="RotaryQk"/>: the model's RMSNorm and RoPE rotation as
///    one call each when no gradient is recorded (decoding). RMSNorm is libtorch's <c>rms_norm</c> on the float32 input
///    (one reduction kernel instead of pow, mean, add, rsqrt and mul), cast back, times the gain: the formula of
///    <see cref="Models.RmsNorm"/>, with the same result on the CPU (tested) and up to reduction order on CUDA. The
///    rotation is the same operations as <see cref="Positional.RotaryEmbedding"/> writes out, for q and k together.
/// The log-sum-exp output carries no gradient (libtorch's kernels do not differentiate it): forms that merge parts
/// with it are forward-only unless they say otherwise. The output of (1) and of (2) does backpropagate.
/// </summary>
public static class FusedKernels
{
    /// <summary>
    /// The TorchScript the kit compiles. The attention functions each call one ATen operator; the RMSNorm and rotation
    /// functions are short elementwise chains on shapes fixed while decoding (TorchScript specializes a function for each
    /// new input shape, which costs tens of milliseconds on the H200 machine, so chains over shapes that change every step,
    /// such as a merge or an eviction policy's weights, stay TorchSharp calls).
    /// </summary>
    public const string Source = """
def sdpa(q: Tensor, k: Tensor, v: Tensor, mask: Optional[Tensor], causal: bool, scale: Optional[float]) -> Tensor:
    return torch.scaled_dot_product_attention(q, k, v, mask, 0.0, causal, scale=scale, enable_gqa=True)

def sdpa_plain(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    return torch.scaled_dot_product_attention(q, k, v, enable_gqa=True)

def flash_window(q: Tensor, k: Tensor, v: Tensor, left: int, scale: Optional[float]) -> Tuple[Tensor, Tensor]:
    r = torch._flash_attention_forward(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), None, None, q.size(2), k.size(2), 0.0, True, False, scale=scale, window_size_left=left, window_size_right=0)
    return r[0].transpose(1, 2), r[1]

def lse_cpu(q: Tensor, k: Tensor, v: Tensor, causal: bool, scale: Optional[float]) -> Tuple[Tensor, Tensor]:
    r = torch._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, causal, attn_mask=None, scale=scale)
    return r[0], r[1]

def lse_cudnn(q: Tensor, k: Tensor, v: Tensor, causal: bool, scale: Optional[float]) -> Tuple[Tensor, Tensor]:
    r = torch._scaled_dot_product_cudnn_attention(q, k, v, None, True, 0.0, causal, False, scale=scale)
    return r[0], r[1]

def lse_flash(q: Tensor, k: Tensor, v: Tensor, causal: bool, scale: Optional[float]) -> Tuple[Tensor, Tensor]:
    r = torch._scaled_dot_product_flash_attention(q, k, v, 0.0, causal, False, scale=scale)
    return r[0], r[1]

def lse_efficient(q: Tensor, k: Tensor, v: Tensor, causal: bool, scale: Optional[float]) -> Tuple[Tensor, Tensor]:
    r = torch._scaled_dot_product_efficient_attention(q, k, v, None, True, 0.0, causal, scale=scale)
    return r[0], r[1]

def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    return torch.rms_norm(x.float(), [x.size(-1)], None, eps).to(x.dtype) * weight

def rotary(x: Tensor, cos: Tensor, sin: Tensor, rot: int) -> Tensor:
    d = x.size(3)
    half = rot // 2
    xf = x.narrow(3, 0, rot).float()
    rotated = torch.cat([-xf.narrow(3, half, half), xf.narrow(3, 0, half)], 3)
    y = (xf * cos + rotated * sin).to(x.dtype)
    if rot != d:
        y = torch.cat([y, x.narrow(3, rot, d - rot)], 3)
    return y

def rotary_qk(q: Tensor, k: Tensor, cos: Tensor, sin: Tensor, rot: int) -> Tuple[Tensor, Tensor]:
    hq = q.size(1)
    y = rotary(torch.cat([q, k], 1), cos, sin, rot)
    return y.narrow(1, 0, hq), y.narrow(1, hq, k.size(1))

""";

    private static readonly Lazy<jit.CompilationUnit?> unit = new(Compile, LazyThreadSafetyMode.ExecutionAndPublication);
    private static string? compileError;
    private static readonly ConcurrentDictionary<(string Op, DeviceType Device, ScalarType DType, long HeadDim), string> chosen = new();

    /// <summary>Whether the script compiled (it does wherever libtorch has TorchScript; false only on a build without it).</summary>
    public static bool Available => unit.Value is not null;

    /// <summary>
    /// Whether the kit uses the script (default true). False makes every call take step 3's fallback, TorchSharp's
    /// binding (heads folded or repeated, the scale folded into q) and the op-by-op RMSNorm and RoPE: the path the kit
    /// took before, for comparisons and benchmarks. It holds for the code flow that sets it (an <see cref="AsyncLocal{T}"/>:
    /// the thread and what it awaits), so parallel tests and notebooks do not change each other's path.
    /// </summary>
    public static bool UseTorchScript { get => !off.Value; set => off.Value = !value; }

    private static readonly AsyncLocal<bool> off = new();

    private static jit.CompilationUnit? Script => UseTorchScript ? unit.Value : null;

    /// <summary>What answered each operation so far, per device and dtype: "op on device/dtype" → implementation.</summary>
    public static IReadOnlyDictionary<string, string> Implementations =>
        chosen.ToDictionary(kv => $"{kv.Key.Op} on {kv.Key.Device.ToString().ToLowerInvariant()}/{kv.Key.DType}" + (kv.Key.HeadDim > 0 ? $"/D={kv.Key.HeadDim}" : ""), kv => kv.Value);

    private static jit.CompilationUnit? Compile()
    {
        try { return torch.jit.compile(Source); }
        catch (Exception e) { compileError = e.Message.Split('\n')[0]; return null; }
    }

    /// <summary>Why the script is unavailable (null when it compiled).</summary>
    public static string? CompileError => Available ? null : compileError;

    /// <summary>
    /// softmax(q·kᵀ·scale + mask)·v by the fused kernel (step 1). q (B, Hq, Nq, D), k (B, Hkv, Nk, D), v (B, Hkv, Nk, Dv),
    /// Hkv dividing Hq; <paramref name="mask"/> boolean (true = may attend) or additive float, broadcasting to
    /// (B, Hq, Nq, Nk); <paramref name="causal"/> is libtorch's top-left causal flag (use it with Nq = Nk);
    /// <paramref name="scale"/> null means 1/√D. A row whose mask forbids every key is libtorch's business (NaN or
    /// zeros): callers that can produce one handle it (<see cref="ScaledDotProductAttention.Fused"/> does).
    /// </summary>
    public static Tensor Attention(Tensor q, Tensor k, Tensor v, Tensor? mask = null, bool causal = false, double? scale = null)
    {
        CheckQkv(q, k, v, out long groups);
        return Sdpa(q, k, v, mask, causal, scale, groups);
    }

    /// <summary><see cref="Attention"/> on checked arguments (the kit's own callers have validated them already).</summary>
    internal static Tensor Sdpa(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double? scale, long groups)
    {
        var key = ("sdpa", q.device_type, q.dtype, 0L);
        bool known = chosen.TryGetValue(key, out var impl);
        if (!UseTorchScript) return TorchSharpAttention(q, k, v, mask, causal, scale, groups);
        if ((!known || impl == ScriptSdpa) && unit.Value is { } cu)
        {
            try
            {
                var o = mask is null && !causal && scale is null
                    ? (Tensor)cu.invoke("sdpa_plain", q, k, v)!                                      // three arguments: less to marshal on the hot decoding call
                    : (Tensor)cu.invoke("sdpa", q, k, v, mask, causal, scale)!;
                if (!known) chosen.TryAdd(key, ScriptSdpa);
                return o;
            }
            catch (Exception) when (!known) { }
        }
        if (!known) chosen.TryAdd(key, BindingSdpa);
        return TorchSharpAttention(q, k, v, mask, causal, scale, groups);
    }

    /// <summary>
    /// How a decoding call (a few queries, no mask, every key visible) with grouped heads is computed on CUDA, by the
    /// number of keys (bench rows <c>decode-static-cache</c>, <c>decode-gqa-script</c>, <c>decode-fold</c>,
    /// <c>decode-expand</c>; bench/results/README.md): up to <see cref="FoldDecodeMaxKeys"/> keys each query group is
    /// folded into the token axis of its key/value head and TorchSharp's binding is called; above, up to
    /// <see cref="ExpandedDecodeMaxKeys"/>, the key/value heads are expanded with stride 0 (no copy) and the binding is
    /// called; beyond that, one TorchScript call with <c>enable_gqa</c>. Both are 0, so the kit takes the
    /// <c>enable_gqa</c> call at every context: on the H200 the fold was the cheapest call at a fixed context, but
    /// libtorch then plans a new kernel for every key count (about 30 ms a step while a cache's length keeps changing),
    /// and the expanded heads were no faster up to 16k and slower beyond. The CPU takes the TorchScript call: folding measured faster on this
    /// project's 2-core machine (0.06 against 0.24 ms at 1k keys, fp32, d = 64), but libtorch's CPU kernel then rounds
    /// differently for a cache read in place from a larger buffer than for a contiguous one, and the kit's caches at zero
    /// compression equal the full cache exactly.
    /// </summary>
    public static long FoldDecodeMaxKeys { get; set; }

    /// <inheritdoc cref="FoldDecodeMaxKeys"/>
    public static long ExpandedDecodeMaxKeys { get; set; }

    /// <summary>The most queries a call may have for the decoding rule of <see cref="FoldDecodeMaxKeys"/> to apply (a step, a short draft).</summary>
    public const long DecodeMaxQueries = 16;

    /// <summary>Decoding: q (B, Hq, nq, D) over every key of k, v (B, Hkv, nk, ·); no mask; the rule of <see cref="FoldDecodeMaxKeys"/>.</summary>
    internal static Tensor Decode(Tensor q, Tensor k, Tensor v, double? scale, long groups, long nq, long nk)
    {
        if (groups > 1 && nq <= DecodeMaxQueries && UseTorchScript && q.device_type == DeviceType.CUDA)
        {
            if (nk <= FoldDecodeMaxKeys) return TorchSharpAttention(q, k, v, null, false, scale, groups);
            if (nk <= ExpandedDecodeMaxKeys) return ExpandedHeads(q, k, v, scale, groups);
        }
        return Sdpa(q, k, v, null, false, scale, groups);
    }

    /// <summary>
    /// TorchSharp's binding over key/value heads expanded with stride 0: q (B, Hq, Nq, D) → (B·Hkv, G, Nq, D),
    /// k (B, Hkv, Nk, D) → (B·Hkv, G, Nk, D) reading each key/value head G times in place. No mask, not causal.
    /// </summary>
    internal static Tensor ExpandedHeads(Tensor q, Tensor k, Tensor v, double? scale, long groups)
    {
        using var scope = torch.NewDisposeScope();
        long[] qShape = q.shape, kShape = k.shape;
        var (batch, hq, nq, d) = (qShape[0], qShape[1], qShape[2], qShape[3]);
        var (hkv, nk, dv) = (kShape[1], kShape[2], v.shape[3]);
        var qs = scale is double sc ? q * (sc * Math.Sqrt(d)) : q;                           // the binding scales by 1/√D itself
        var kg = k.reshape(batch * hkv, 1, nk, d).expand(batch * hkv, groups, nk, d);       // (B·Hkv, G, Nk, D), stride 0 over G
        var vg = v.reshape(batch * hkv, 1, nk, dv).expand(batch * hkv, groups, nk, dv);
        var o = nn.functional.scaled_dot_product_attention(qs.reshape(batch * hkv, groups, nq, d), kg, vg, null, 0.0, false);
        return o.reshape(batch, hq, nq, dv).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Causal sliding-window attention by flash attention's own window (CUDA, bf16/fp16): query i reads keys
    /// i − <paramref name="window"/> + 1 … i, and the kernel visits only the key blocks the window reaches. Self-attention
    /// (Nq = Nk). Returns the output (B, Hq, N, Dv) and the log-sum-exp (B, Hq, N) float32, or null where the kernel is
    /// not available (the CPU, other dtypes, a libtorch without it): the caller takes its blockwise path. The output
    /// backpropagates (libtorch differentiates <c>_flash_attention_forward</c>).
    /// </summary>
    internal static (Tensor Output, Tensor LogSumExp)? FlashWindow(Tensor q, Tensor k, Tensor v, long window, double? scale)
    {
        if (!UseTorchScript || q.device_type != DeviceType.CUDA || q.dtype is not (ScalarType.BFloat16 or ScalarType.Float16) || unit.Value is not { } cu) return null;
        var key = ("flash window", q.device_type, q.dtype, q.shape[3]);
        if (chosen.TryGetValue(key, out var impl) && impl != FlashWindowName) return null;
        try
        {
            var r = ((Tensor, Tensor))cu.invoke("flash_window", q, k, v, window - 1, scale)!;
            chosen.TryAdd(key, FlashWindowName);
            return r;
        }
        catch (Exception)
        {
            chosen.TryAdd(key, "blockwise fused calls (no flash window kernel)");
            return null;
        }
    }

    private const string FlashWindowName = "torchscript _flash_attention_forward with window_size_left";

    private const string ScriptSdpa = "torchscript enable_gqa", BindingSdpa = "torchsharp binding (heads folded or repeated)";

    /// <summary>
    /// <see cref="Blockwise.LogSumExpMerge.MergeInto"/> on arguments already checked, in six TorchSharp calls:
    /// ℓ = logaddexp(ℓa, ℓb), share = exp(ℓb − ℓ), o ← lerp(o_a, o_b, share). (A TorchScript version of this chain
    /// measured slower on the H200 machine, about 10 µs an interpreted operation, and it recompiles for new shapes.)
    /// </summary>
    internal static void MergeInto(Tensor output, Tensor lse, Tensor o, Tensor l)
    {
        using var scope = torch.NewDisposeScope();
        var total = torch.logaddexp(lse, l);                                                  // 1.–3. ℓ = log(e^ℓa + e^ℓb), −∞ when both are
        var share = (l - total).exp_().nan_to_num_(0.0);                                      //    b's share e^(ℓb − ℓ); 0 when both parts are empty
        output.lerp_(o, share.unsqueeze(-1).to(output.dtype));                                // 4. o_a + share·(o_b − o_a)
        lse.copy_(total);
    }

    /// <summary>
    /// RMSNorm of x (…, d) with gain <paramref name="weight"/> (d) as one TorchScript call (step 4):
    /// y = (x_f32 · rsqrt(mean(x_f32²) + eps)).to(x.dtype) · weight. Null when the script is unavailable (the caller
    /// computes it op by op). Arguments are the caller's, already checked.
    /// </summary>
    internal static Tensor? RmsNorm(Tensor x, Tensor weight, double eps) =>
        Script is { } cu ? (Tensor)cu.invoke("rms_norm", x, weight, eps)! : null;

    /// <summary>
    /// RoPE's rotation of the first <paramref name="rot"/> channels of x (B, H, N, D) by cos/sin (broadcasting to
    /// (…, N, rot), float32) as one TorchScript call (step 4): y = x·cos + rotate_half(x)·sin in float32, back to x's
    /// dtype, the other channels unchanged. Null when the script is unavailable.
    /// </summary>
    internal static Tensor? Rotary(Tensor x, Tensor cos, Tensor sin, long rot) =>
        Script is { } cu ? (Tensor)cu.invoke("rotary", x, cos, sin, rot)! : null;

    /// <summary>
    /// <see cref="Rotary"/> of queries (B, Hq, N, D) and keys (B, Hkv, N, D) at the same positions in one call: the two
    /// are concatenated along the heads, rotated once and split (views), so the rotation's kernels run once, not twice.
    /// </summary>
    internal static (Tensor Q, Tensor K)? RotaryQk(Tensor q, Tensor k, Tensor cos, Tensor sin, long rot) =>
        Script is { } cu ? ((Tensor, Tensor))cu.invoke("rotary_qk", q, k, cos, sin, rot)! : null;

    /// <summary>
    /// The fused output and the per-query log-sum-exp (step 2), no mask: (B, Hq, Nq, Dv) in q's dtype and (B, Hq, Nq)
    /// float32. Grouped heads are read in place by the flash kernels (CPU and CUDA); the memory-efficient kernel, which
    /// cannot, gets each key/value head's query group folded into one call (exact: without a mask queries are
    /// independent), or with <paramref name="causal"/> the key/value heads repeated.
    /// <paramref name="causal"/> needs Nq = Nk (a square block, as on a tile diagonal).
    /// </summary>
    public static (Tensor Output, Tensor LogSumExp) AttentionWithLogSumExp(Tensor q, Tensor k, Tensor v, bool causal = false, double? scale = null)
    {
        CheckQkv(q, k, v, out long groups);
        long nq = q.shape[2], nk = k.shape[2];
        if (causal && nq != nk)
            throw new ArgumentException($"causal: the log-sum-exp kernels align the causal mask top-left; expected Nq = Nk, got Nq = {nq}, Nk = {nk}", nameof(causal));
        return LseCall(q, k, v, causal, scale, groups);
    }

    /// <summary><see cref="AttentionWithLogSumExp"/> on arguments already checked (the kit's kernel-speed forms).</summary>
    internal static (Tensor Output, Tensor LogSumExp) LogSumExpUnchecked(Tensor q, Tensor k, Tensor v, bool causal, double? scale, long groups) =>
        LseCall(q, k, v, causal, scale, groups);

    /// <summary>The kernels in the order tried: (script function, reads grouped heads in place).</summary>
    private static (string Op, bool Grouped)[] LseOrder(Tensor q) => q.device_type == DeviceType.CUDA
        ? q.dtype is ScalarType.BFloat16 or ScalarType.Float16 ? [("lse_cudnn", true), ("lse_flash", true), ("lse_efficient", false)] : [("lse_efficient", false)]
        : [("lse_cpu", true)];

    private static (Tensor, Tensor) LseCall(Tensor q, Tensor k, Tensor v, bool causal, double? scale, long groups)
    {
        long[] qs = q.shape;
        var (b, hq, nq, d) = (qs[0], qs[1], qs[2], qs[3]);
        var key = ("attention with log-sum-exp" + (groups > 1 ? ", grouped heads" : ""), q.device_type, q.dtype, d); // kernels refuse some head dims: per D
        bool known = chosen.TryGetValue(key, out var impl);
        if (!UseTorchScript || unit.Value is not { } cu) return DenseWithLogSumExp(q, k, v, causal, scale, groups);
        foreach (var (op, grouped) in LseOrder(q))
        {
            string name = "torchscript " + op + (groups > 1 ? grouped ? " (grouped heads in place)" : causal ? " (heads repeated)" : " (query groups folded)" : "");
            if (known && impl != name) continue;
            try
            {
                using var scope = torch.NewDisposeScope();
                Tensor o, lse;
                if (groups == 1 || grouped) (o, lse) = ((Tensor, Tensor))cu.invoke(op, q, k, v, causal, scale)!;
                else if (!causal)
                {
                    long hkv = k.shape[1], dv = v.shape[3];
                    (o, lse) = ((Tensor, Tensor))cu.invoke(op, q.reshape(b, hkv, groups * nq, d), k, v, false, scale)!; // (B, Hkv, G·Nq, D)
                    (o, lse) = (o.reshape(b, hq, nq, dv), lse.narrow(2, 0, groups * nq).reshape(b, hq, nq));          // (B, Hq, Nq, Dv), (B, Hq, Nq)
                }
                else
                    (o, lse) = ((Tensor, Tensor))cu.invoke(op, q, k.repeat_interleave(groups, dim: 1), v.repeat_interleave(groups, dim: 1), true, scale)!;
                if (lse.dim() == 4) lse = lse.squeeze(-1);                                      // cuDNN's log-sum-exp is (B, H, Nq, 1)
                else if (lse.shape[2] != nq) lse = lse.narrow(2, 0, nq);                         // the efficient kernel pads queries to a multiple of 32
                if (lse.dtype != ScalarType.Float32) lse = lse.to(ScalarType.Float32);
                if (!known) chosen.TryAdd(key, name);
                o.MoveToOuterDisposeScope();
                return (o, lse.MoveToOuterDisposeScope());
            }
            catch (Exception) when (!known) { }
        }
        if (!known) chosen.TryAdd(key, "dense float32 (no fused log-sum-exp kernel)");
        return DenseWithLogSumExp(q, k, v, causal, scale, groups);
    }

    /// <summary>softmax attention and its log-sum-exp computed densely in float32 (the fallback of step 3).</summary>
    private static (Tensor, Tensor) DenseWithLogSumExp(Tensor q, Tensor k, Tensor v, bool causal, double? scale, long groups)
    {
        using var scope = torch.NewDisposeScope();
        long nq = q.shape[2], nk = k.shape[2];
        double s = scale ?? 1.0 / Math.Sqrt(q.shape[3]);
        var (kf, vf) = (k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        if (groups > 1) (kf, vf) = (kf.repeat_interleave(groups, dim: 1), vf.repeat_interleave(groups, dim: 1));
        var scores = torch.matmul(q.to(ScalarType.Float32), kf.transpose(-2, -1)) * s;      // (B, H, Nq, Nk)
        if (causal) scores = scores.masked_fill(torch.ones(nq, nk, ScalarType.Bool, q.device).triu(1), double.NegativeInfinity);
        var lse = scores.logsumexp(-1);                                                       // (B, H, Nq)
        var o = torch.matmul((scores - lse.unsqueeze(-1)).exp(), vf).to(q.dtype);
        o.MoveToOuterDisposeScope();
        return (o, lse.MoveToOuterDisposeScope());
    }

    /// <summary>TorchSharp's binding: the scale folded into q, grouped heads folded (no mask, not causal), expanded with stride 0 (causal) or repeated (masked).</summary>
    internal static Tensor TorchSharpAttention(Tensor q, Tensor k, Tensor v, Tensor? mask, bool causal, double? scale, long groups)
    {
        using var scope = torch.NewDisposeScope();
        long[] qShape = q.shape, kShape = k.shape;
        var (batch, hq, nq, d) = (qShape[0], qShape[1], qShape[2], qShape[3]);
        var (hkv, nk, dv) = (kShape[1], kShape[2], v.shape[3]);
        var qs = scale is double sc ? q * (sc * Math.Sqrt(d)) : q;                           // the binding scales by 1/√D itself
        Tensor o;
        if (groups == 1) o = nn.functional.scaled_dot_product_attention(qs, k, v, mask, 0.0, causal);
        else if (mask is null && !causal)
            o = nn.functional.scaled_dot_product_attention(qs.reshape(batch, hkv, groups * nq, d), k, v, null, 0.0, false).reshape(batch, hq, nq, dv); // (B, Hkv, G·Nq, D)
        else if (mask is null)
        {
            var kg = k.reshape(batch * hkv, 1, nk, d).expand(batch * hkv, groups, nk, d);   // (B·Hkv, G, Nk, D), stride 0 over G
            var vg = v.reshape(batch * hkv, 1, nk, dv).expand(batch * hkv, groups, nk, dv);
            o = nn.functional.scaled_dot_product_attention(qs.reshape(batch * hkv, groups, nq, d), kg, vg, null, 0.0, true).reshape(batch, hq, nq, dv);
        }
        else
            o = nn.functional.scaled_dot_product_attention(qs, k.repeat_interleave(groups, dim: 1), v.repeat_interleave(groups, dim: 1), mask, 0.0, causal);
        return o.MoveToOuterDisposeScope();
    }

    /// <summary>The dense reference's checks (ranks, dtypes, devices, matching sizes, Hkv dividing Hq), any query count.</summary>
    private static void CheckQkv(Tensor q, Tensor k, Tensor v, out long groups) =>
        groups = ScaledDotProductAttention.Validate(q, k, v, AnyQueries).Groups;

    private static readonly AttentionOptions AnyQueries = new() { QueryOffset = 0 };
}
