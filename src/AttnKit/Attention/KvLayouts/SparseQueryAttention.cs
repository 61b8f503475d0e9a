using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.KvLayouts;

/// <summary>
/// Sparse query attention: fewer query heads. Filipek, "Sparse Query Attention (SQA): A Computationally Efficient
/// Attention Mechanism with Query Heads Reduction", 2025 (arXiv 2510.01817), section 3. MQA and GQA share key/value
/// heads, which shrinks the cache but leaves the score FLOPs (one N×L score matrix per query head) as they were; SQA
/// keeps the head dim of the H-head baseline and uses Hq &lt; H query heads, so the attention FLOPs fall by H/Hq, while
/// Hkv ≤ Hq key/value heads set the cache as in GQA. The output projection maps Hq·D (not H·D) back to d.
///
/// 1. q = x·W_Q (B, Hq, N, D), k = x·W_K, v = x·W_V (B, Hkv, N, D), D = d / H of the baseline;
/// 2. rotate, cache, mask and attend, each key/value head serving Hq/Hkv query heads (<see cref="DecoderAttention.Attend"/>);
/// 3. merge the Hq heads and project: (B, N, Hq·D)·W_O (d' = Hq·D → d).
/// Variants of the paper: symmetric sSQA (Hq = Hkv = H/2), extreme xSQA (Hq = Hkv = H/4); Hq = H is GQA.
/// </summary>
public sealed class SparseQueryAttention : DecoderAttention
{
    private readonly Linear q_proj, k_proj, v_proj, o_proj;
    private readonly int hq, hkv, d;
    private readonly int modelDim;

    /// <summary>A layer with <paramref name="queryHeads"/> query and <paramref name="kvHeads"/> key/value heads of the model's head dim D.</summary>
    public SparseQueryAttention(TinyLmConfig config, int queryHeads, int kvHeads, Device? device = null, ScalarType? dtype = null) : base(nameof(SparseQueryAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Check.Positive(queryHeads, nameof(queryHeads));
        Check.Positive(kvHeads, nameof(kvHeads));
        if (queryHeads % kvHeads != 0) throw new ArgumentException($"{nameof(kvHeads)}: the {queryHeads} query heads must be a multiple of the {kvHeads} key/value heads", nameof(kvHeads));
        (hq, hkv, d) = (queryHeads, kvHeads, config.Dim);
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        q_proj = nn.Linear(config.ModelDim, hq * d, config.QkvBias, dev, dt);
        k_proj = nn.Linear(config.ModelDim, hkv * d, config.QkvBias, dev, dt);
        v_proj = nn.Linear(config.ModelDim, hkv * d, config.QkvBias, dev, dt);
        o_proj = nn.Linear(hq * d, config.ModelDim, false, dev, dt);
        modelDim = config.ModelDim;
        RegisterComponents();
    }

    /// <summary>(Hq, Hkv, D).</summary>
    public (int QueryHeads, int KvHeads, int HeadDim) Heads => (hq, hkv, d);

    /// <inheritdoc/>
    public override long KvBytesPerToken(int elementBytes) => 2L * hkv * d * elementBytes;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, AttentionStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Check.Rank(x, 3, nameof(x), "(B, N, d)");
        Check.Dim(x, 2, modelDim, nameof(x), "the model width d");
        using var scope = torch.NewDisposeScope();
        long[] xs = x.shape;
        var (b, n) = (xs[0], xs[1]);
        var q = q_proj.forward(x).view(b, n, hq, d).transpose(1, 2);                       // 1. (B, Hq, N, D)
        var k = k_proj.forward(x).view(b, n, hkv, d).transpose(1, 2);                      //    (B, Hkv, N, D)
        var v = v_proj.forward(x).view(b, n, hkv, d).transpose(1, 2);                      //    (B, Hkv, N, D)
        var o = Attend(q, k, v, step);                                                     // 2. (B, Hq, N, D)
        var y = o_proj.forward(o.transpose(1, 2).reshape(b, n, hq * d));                   // 3. (B, N, d)
        step.Weights?.MoveToOuterDisposeScope();
        return y.MoveToOuterDisposeScope();
    }
}
