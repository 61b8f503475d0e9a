using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.KvLayouts;

/// <summary>What one attention layer costs per token, by its layout's formulas (FLOPs count a multiply-add as 2).</summary>
/// <param name="Layout">The layout's name.</param>
/// <param name="Parameters">Parameters of the layer.</param>
/// <param name="KvElementsPerToken">Elements one token adds to the layer's cache.</param>
/// <param name="FixedFlops">FLOPs per token that do not depend on the context: projections, up-projections of the token itself, convolutions.</param>
/// <param name="PrefillFlopsPerKey">FLOPs per token per attended key in prefill (the up-projected form).</param>
/// <param name="DecodeFixedFlops">FLOPs per decoded token that do not depend on the context.</param>
/// <param name="DecodeFlopsPerKey">FLOPs per decoded token per held key (the cheapest exact form this kit computes; for MLA the absorbed one).</param>
public sealed record LayerCost(string Layout, long Parameters, long KvElementsPerToken, double FixedFlops, double PrefillFlopsPerKey, double DecodeFixedFlops, double DecodeFlopsPerKey)
{
    /// <summary>FLOPs per token of a causal prefill of <paramref name="tokens"/> tokens (token i attends to i keys: (N + 1)/2 on average).</summary>
    public double PrefillFlopsPerToken(long tokens) => FixedFlops + PrefillFlopsPerKey * (tokens + 1) / 2.0;

    /// <summary>FLOPs of decoding one token after <paramref name="context"/> tokens (it attends to context + 1 keys).</summary>
    public double DecodeFlopsPerToken(long context) => DecodeFixedFlops + DecodeFlopsPerKey * (context + 1);

    /// <summary>Bytes of cache one decoded token reads after <paramref name="context"/> tokens (every held key and value, and its own).</summary>
    public double DecodeKvBytesRead(long context, int elementBytes = 2) => (double)KvElementsPerToken * elementBytes * (context + 1);

    /// <summary>
    /// Equivalent FLOPs of decoding one token: compute plus memory traffic times the hardware's arithmetic intensity,
    /// eFLOPs = C_comp + I·C_mem. Sadhukhan et al., "Kinetics: Rethinking Test-Time Scaling Laws", 2025 (arXiv
    /// 2506.05333), section 3: with batched decoding the weights' reads are shared, so the cost that grows with the
    /// context is the KV cache's. <paramref name="intensity"/> is FLOPs per byte (562.5 for a B200 in the paper).
    /// </summary>
    public double DecodeEquivalentFlopsPerToken(long context, int elementBytes = 2, double intensity = 562.5)
    {
        Check.Positive(elementBytes, nameof(elementBytes));
        Check.PositiveFinite(intensity, nameof(intensity));
        return DecodeFlopsPerToken(context) + intensity * DecodeKvBytesRead(context, elementBytes);
    }
}

/// <summary>
/// KV bytes and FLOPs per token of every layout of this folder, by formula, and the cache a model really
/// holds, by measurement. The formulas follow Table II of Figliolia et al. 2025 (arXiv 2510.04476) per token and per
/// layer: projections 2·d_in·d_out, scores 2·H·D_qk and weighted values 2·H·D_v per attended key.
/// </summary>
public static class KvLayoutAccounting
{
    /// <summary>The cost of one attention layer of width <paramref name="modelDim"/>.</summary>
    public static LayerCost Cost(DecoderAttention layer, int modelDim)
    {
        ArgumentNullException.ThrowIfNull(layer);
        Check.Positive(modelDim, nameof(modelDim));
        double m = modelDim;
        long parameters = layer.parameters().Sum(p => p.numel());
        long kv = layer.KvBytesPerToken(1);
        switch (layer)
        {
            case LlamaAttention a:
            {
                var (hq, hkv, d) = a.Heads;
                double fixedF = 2 * m * (hq + 2.0 * hkv) * d + 2.0 * hq * d * m;
                return new(hkv == hq ? "mha" : hkv == 1 ? "mqa" : $"gqa-{hkv}", parameters, kv, fixedF, 4.0 * hq * d, fixedF, 4.0 * hq * d);
            }
            case SparseQueryAttention s:
            {
                var (hq, hkv, d) = s.Heads;
                double fixedF = 2 * m * (hq + 2.0 * hkv) * d + 2.0 * hq * d * m;
                return new($"sqa-{hq}q{hkv}kv", parameters, kv, fixedF, 4.0 * hq * d, fixedF, 4.0 * hq * d);
            }
            case CrossLayerAttention c:
                return ClaCost(c, modelDim, parameters, kv);
            case MultiHeadLatentAttention l:
            {
                var (h, d, dr, dc, dv) = l.Shape;
                int dn = d - dr;
                var (_, _, _, q, qDown, qUp) = l.Projections;
                double qF = q is not null ? 2 * m * h * d : 2 * m * qDown!.weight!.shape[0] + 2.0 * qUp!.weight!.shape[1] * h * d;
                double common = qF + 2 * m * (dc + dr) + 2.0 * h * dv * m;
                double prefillFixed = common + 2.0 * dc * h * (dn + dv);                   // the token's own up-projection
                double decodeFixed = common + (l.Decoupled ? 2.0 * h * dn * dc + 2.0 * h * dc * dv : 0);
                double decodePerKey = l.Decoupled ? 2.0 * h * (dr + dc) + 2.0 * h * dc : 2.0 * dc * h * (dn + dv) + 2.0 * h * (d + dv);
                return new(l.Decoupled ? $"mla-{dc}+{dr}" : $"mla-prerope-{dc}", parameters, kv, prefillFixed, 2.0 * h * (d + dv), decodeFixed, decodePerKey);
            }
            case TensorProductAttention t:
            {
                var (h, d, rq, rk, rv) = t.Shape;
                double fixedF = 2 * m * (rq + rk + rv) * (h + d) + 2.0 * rq * h * d + 2.0 * h * d * m;
                double prefill = fixedF + 2.0 * (rk + rv) * h * d;                          // the token's own K and V
                return new($"tpa-{rq}/{rk}/{rv}", parameters, kv, prefill, 4.0 * h * d, fixedF, 2.0 * (rk + rv) * h * d + 4.0 * h * d);
            }
            case CompressedConvolutionalAttention cca:
            {
                var (hq, hkv, d) = cca.Heads;
                double c = (hq + hkv) * d;
                double convF = 2 * c * cca.Options.SequenceKernel + 2 * c * d * cca.Options.HeadKernel; // depth-wise, then head-wise
                double fixedF = 2 * m * c + 2 * m * hkv * d + convF + 2.0 * hq * d * m;
                return new(hkv == hq ? $"cca-C{modelDim / (hq * d)}" : $"ccgqa-C{modelDim / (hq * d)}-{hkv}kv", parameters, kv, fixedF, 4.0 * hq * d, fixedF, 4.0 * hq * d);
            }
            default:
                throw new ArgumentException($"{nameof(layer)}: no cost formula for {layer.GetType().Name}", nameof(layer));
        }
    }

    private static LayerCost ClaCost(CrossLayerAttention c, int modelDim, long parameters, long kv)
    {
        var (hq, hkv, d) = c.Heads;
        double m = modelDim;
        double fixedF = 2 * m * (hq + (c.IsProducer ? 2.0 * hkv : 0)) * d + 2.0 * hq * d * m;
        return new($"cla{c.SharingFactor}-{hkv}kv", parameters, kv, fixedF, 4.0 * hq * d, fixedF, 4.0 * hq * d);
    }

    /// <summary>The sum of <see cref="Cost(DecoderAttention, int)"/> over a model's layers (the name of the first layer's layout).</summary>
    public static LayerCost Cost(TinyLm model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var costs = model.Layers.Select(l => Cost(l.Attention, model.Config.ModelDim)).ToList();
        return new(model.Config.AttentionName ?? costs[0].Layout, costs.Sum(c => c.Parameters), costs.Sum(c => c.KvElementsPerToken),
            costs.Sum(c => c.FixedFlops), costs.Sum(c => c.PrefillFlopsPerKey), costs.Sum(c => c.DecodeFixedFlops), costs.Sum(c => c.DecodeFlopsPerKey));
    }

    /// <summary>
    /// Measured cache bytes per token: runs a prefill of <paramref name="tokens"/> random tokens (batch 1) through the
    /// model with a fresh growing cache and divides the cache's <see cref="Cache.ModelCache.StorageBytes"/> by the tokens.
    /// </summary>
    public static double MeasuredKvBytesPerToken(TinyLm model, int tokens = 32)
    {
        ArgumentNullException.ThrowIfNull(model);
        Check.Positive(tokens, nameof(tokens));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var generator = new Generator(7);
        var ids = torch.randint(0, model.Config.VocabSize, [1, tokens], ScalarType.Int64, generator: generator).to(model.Device);
        using var cache = model.NewCache();
        model.Forward(ids, cache);
        return cache.StorageBytes / (double)tokens;
    }
}
