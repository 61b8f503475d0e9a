using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Models;

/// <summary>
/// The attention of a Llama-style decoder: grouped-query attention with rotary positions. Ainslie et al., "GQA:
/// Training Generalized Multi-Query Transformer Models from Multi-Head Checkpoints", 2023 (arXiv 2305.13245); with
/// as many key/value heads as query heads it is multi-head attention (Vaswani et al., 2017), with one it is multi-query
/// attention (Shazeer, 2019, arXiv 1911.02150).
///
/// 1. project: q = x·W_q (B, N, Hq·D), k = x·W_k, v = x·W_v (B, N, Hkv·D);
/// 2. split heads: (B, N, H·D) → (B, H, N, D);
/// 3. rotate, cache, mask and attend (<see cref="DecoderAttention.Attend"/>);
/// 4. merge heads and project: (B, Hq, N, D) → (B, N, Hq·D) → ·W_o.
/// The cache holds Hkv keys and values per token: 2·Hkv·D elements.
/// </summary>
public sealed class LlamaAttention : DecoderAttention
{
    private readonly Linear q_proj, k_proj, v_proj, o_proj;
    private readonly int hq, hkv, d;

    /// <summary>The attention of one layer of a model with this configuration.</summary>
    public LlamaAttention(TinyLmConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(LlamaAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        (hq, hkv, d) = (config.Heads, config.KvHeadCount, config.Dim);
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        q_proj = nn.Linear(config.ModelDim, hq * d, config.QkvBias, dev, dt);
        k_proj = nn.Linear(config.ModelDim, hkv * d, config.QkvBias, dev, dt);
        v_proj = nn.Linear(config.ModelDim, hkv * d, config.QkvBias, dev, dt);
        o_proj = nn.Linear(hq * d, config.ModelDim, false, dev, dt);
        RegisterComponents();
    }

    /// <summary>W_q, W_k, W_v and W_o (Hugging Face names q_proj, k_proj, v_proj, o_proj).</summary>
    public (Linear Q, Linear K, Linear V, Linear O) Projections => (q_proj, k_proj, v_proj, o_proj);

    /// <summary>(Hq, Hkv, D).</summary>
    public (int QueryHeads, int KvHeads, int HeadDim) Heads => (hq, hkv, d);

    /// <inheritdoc/>
    public override long KvBytesPerToken(int elementBytes) => 2L * hkv * d * elementBytes;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, AttentionStep step)
    {
        using var scope = torch.NewDisposeScope();
        long[] xs = x.shape;
        var (b, n) = (xs[0], xs[1]);
        var q = q_proj.forward(x).view(b, n, hq, d).transpose(1, 2);                       // 1–2. (B, Hq, N, D)
        var k = k_proj.forward(x).view(b, n, hkv, d).transpose(1, 2);                      //      (B, Hkv, N, D)
        var v = v_proj.forward(x).view(b, n, hkv, d).transpose(1, 2);                      //      (B, Hkv, N, D)
        var o = Attend(q, k, v, step);                                                     // 3.   (B, Hq, N, D)
        var y = o_proj.forward(o.transpose(1, 2).reshape(b, n, hq * d));                  // 4.   (B, N, d)
        if (step.Weights is not null) step.Weights.MoveToOuterDisposeScope();
        return y.MoveToOuterDisposeScope();
    }
}
