using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.KvLayouts;

/// <summary>The convolutions and extras of a compressed convolutional attention layer.</summary>
public sealed record CcaOptions
{
    /// <summary>k_seq: kernel of the depth-wise causal convolution over the sequence.</summary>
    public int SequenceKernel { get; init; } = 3;
    /// <summary>k_ch: kernel of the second causal convolution, which also mixes the channels within each head.</summary>
    public int HeadKernel { get; init; } = 3;
    /// <summary>Add the mean of the pre-convolution q and k to both (q-k-mean).</summary>
    public bool QkMean { get; init; } = true;
    /// <summary>Half of the value channels come from the previous token (value-shift).</summary>
    public bool ValueShift { get; init; } = true;
}

/// <summary>
/// Compressed convolutional attention (CCA; CCGQA with fewer key/value heads). Figliolia, Alonso, Iyer, Anthony and
/// Millidge, "Compressed Convolutional Attention: Efficient Attention in a Compressed Latent Space", 2025 (arXiv
/// 2510.04476), section II.B and appendix A. Queries, keys and values are down-projected to a latent of Hq·D (keys
/// and values Hkv·D) channels, with D the model's head dim, so the compression is C = d / (Hq·D), and the whole
/// attention runs there: the cache holds the latent keys and values (2·Hkv·D per token) and the attention FLOPs fall by
/// C, unlike MLA, which up-projects before attending. Two causal convolutions give the narrow q and k local context.
///
/// 1. q̃, k̃ = x·W̃_Q, x·W̃_K (B, N, (Hq + Hkv)·D), packed;
/// 2. conv over the sequence, depth-wise (kernel k_seq), then a head-wise grouped conv (kernel k_ch), both causal;
///    the last k_seq + k_ch − 2 pre-convolution rows are kept in the cache's <see cref="Cache.LayerState"/> for decoding;
/// 3. q-k-mean: q = conv(q̃) + (q̃ + k̃)/2 (k̃ repeated to the query heads), k = conv(k̃) + the group mean of the same;
/// 4. value-shift: v = [x_t·W̃_V1 | x_(t−1)·W̃_V2] split into Hkv heads (half of the channels see the previous token);
/// 5. L2-normalise q and k to norm √D, multiply k by exp(β_h) (a learned temperature per key head), RoPE in the latent;
/// 6. attend (<see cref="DecoderAttention.Attend"/>), merge heads, up-project with W̃_O (Hq·D → d).
/// </summary>
public sealed class CompressedConvolutionalAttention : DecoderAttention
{
    private readonly Linear linear_qk, val_proj1, val_proj2, o_proj;
    private readonly Conv1d conv_qk0, conv_qk1;
    private readonly Parameter temp;
    private readonly int hq, hkv, d, channels, history;
    private readonly int modelDim;
    private readonly CcaOptions options;

    /// <summary>A layer for a model of <paramref name="config"/>: Hq query and Hkv key/value heads of the model's head dim D, in a latent of Hq·D channels.</summary>
    public CompressedConvolutionalAttention(TinyLmConfig config, CcaOptions? options = null, Device? device = null, ScalarType? dtype = null) : base(nameof(CompressedConvolutionalAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        this.options = options ??= new CcaOptions();
        Check.Positive(options.SequenceKernel, nameof(options.SequenceKernel));
        Check.Positive(options.HeadKernel, nameof(options.HeadKernel));
        (hq, hkv, d) = (config.Heads, config.KvHeadCount, config.Dim);
        if (hkv * d % 2 != 0) throw new ArgumentException($"{nameof(config)}: value-shift splits Hkv·D = {hkv * d} channels in halves; expected an even number", nameof(config));
        channels = (hq + hkv) * d;
        history = options.SequenceKernel + options.HeadKernel - 2;
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        linear_qk = nn.Linear(config.ModelDim, channels, false, dev, dt);
        conv_qk0 = nn.Conv1d(channels, channels, options.SequenceKernel, groups: channels, bias: false, device: dev, dtype: dt);
        conv_qk1 = nn.Conv1d(channels, channels, options.HeadKernel, groups: hq + hkv, bias: false, device: dev, dtype: dt);
        val_proj1 = nn.Linear(config.ModelDim, hkv * d / 2, false, dev, dt);
        val_proj2 = nn.Linear(config.ModelDim, hkv * d / 2, false, dev, dt);
        temp = new Parameter(torch.zeros(hkv, dt, dev));
        o_proj = nn.Linear(hq * d, config.ModelDim, false, dev, dt);
        modelDim = config.ModelDim;
        RegisterComponents();
    }

    /// <summary>The convolutions and extras.</summary>
    public CcaOptions Options => options;

    /// <summary>(Hq, Hkv, D).</summary>
    public (int QueryHeads, int KvHeads, int HeadDim) Heads => (hq, hkv, d);

    /// <inheritdoc/>
    public override long KvBytesPerToken(int elementBytes) => 2L * hkv * d * elementBytes;

    /// <summary>Bytes of the fixed decoding state (convolution window and the previous token's shifted values) per sequence.</summary>
    public long StateBytesPerSequence(int elementBytes) => ((long)history * channels + hkv * d / 2) * elementBytes;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, AttentionStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Check.Rank(x, 3, nameof(x), "(B, N, d)");
        Check.Dim(x, 2, modelDim, nameof(x), "the model width d");
        using var scope = torch.NewDisposeScope();
        long[] xs = x.shape;
        var (b, n) = (xs[0], xs[1]);
        var cache = step.Cache;
        bool resume = cache is not null && cache.Seen > 0;
        if (resume)
        {
            using var seen = cache!.State.Get("cca.seen");
            if (seen is null || seen.item<long>() != cache.Seen)
                throw new ArgumentException($"step.Cache: its convolution window is for {(seen is null ? "no" : seen.item<long>().ToString(System.Globalization.CultureInfo.InvariantCulture))} tokens but the cache has seen {cache.Seen}; a cache of compressed convolutional attention cannot be cropped or shared with another layout", nameof(step));
        }
        var qk = linear_qk.forward(x);                                                      // 1. (B, N, (Hq + Hkv)·D)
        var past = (resume ? cache!.State.Get("cca.qk") : null) ?? torch.zeros(b, history, channels, x.dtype, x.device); // (B, P, C)
        var padded = torch.cat([past, qk], 1);                                              //    (B, P + N, C)
        var mixed = conv_qk1.forward(conv_qk0.forward(padded.transpose(1, 2))).transpose(1, 2); // 2. (B, N, C)
        var qPre = qk.narrow(2, 0, hq * d).view(b, n, hq, d);                               //    (B, N, Hq, D)
        var kPre = qk.narrow(2, hq * d, hkv * d).view(b, n, hkv, d);                        //    (B, N, Hkv, D)
        var q = mixed.narrow(2, 0, hq * d).view(b, n, hq, d);
        var k = mixed.narrow(2, hq * d, hkv * d).view(b, n, hkv, d);
        if (options.QkMean)
        {
            var meanQ = (qPre + kPre.repeat_interleave(hq / hkv, dim: 2)) / 2;              // 3. (B, N, Hq, D)
            q = q + meanQ;
            k = k + meanQ.view(b, n, hkv, hq / hkv, d).mean([3]);                           //    (B, N, Hkv, D)
        }
        var v1 = val_proj1.forward(x);                                                      // 4. (B, N, Hkv·D/2)
        var p2 = val_proj2.forward(x);
        Tensor v2 = p2;
        if (options.ValueShift)
        {
            var prev = (resume ? cache!.State.Get("cca.v2") : null) ?? torch.zeros(b, 1, hkv * d / 2, x.dtype, x.device);
            v2 = torch.cat([prev, p2.narrow(1, 0, n - 1)], 1);                              //    x_(t−1)·W̃_V2
        }
        var v = torch.cat([v1, v2], 2).view(b, n, hkv, d).transpose(1, 2);                  //    (B, Hkv, N, D)
        if (cache is not null)
        {
            cache.State.Set("cca.qk", padded.narrow(1, padded.shape[1] - history, history)); //   the convolution window for the next call
            cache.State.Set("cca.v2", p2.narrow(1, n - 1, 1));
            cache.State.Set("cca.seen", torch.tensor(cache.Seen + n));                     //    the token count the window belongs to
        }
        double root = Math.Sqrt(d);
        q = q * (root / q.norm(-1, true));                                                  // 5.
        k = k * (root / k.norm(-1, true)) * temp.exp().view(1, 1, hkv, 1);
        var o = Attend(q.transpose(1, 2), k.transpose(1, 2), v, step);                     // 5–6. (B, Hq, N, D)
        var y = o_proj.forward(o.transpose(1, 2).reshape(b, n, hq * d));                   // 6. (B, N, d)
        step.Weights?.MoveToOuterDisposeScope();
        return y.MoveToOuterDisposeScope();
    }
}
