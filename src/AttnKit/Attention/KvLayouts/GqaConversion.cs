using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.KvLayouts;

/// <summary>
/// Converting a multi-head checkpoint to grouped-query attention. Ainslie et al., "GQA: Training Generalized
/// Multi-Query Transformer Models from Multi-Head Checkpoints", 2023 (arXiv 2305.13245), section 2.1: the key and value
/// projection matrices of the heads of each group are mean-pooled into one head, and the model is then uptrained
/// for a small fraction of its pre-training steps. Queries and every other weight are kept.
///
/// 1. view W_K (H·D, d) as (G, H/G, D, d): group g holds heads g·H/G … (g + 1)·H/G − 1 (the heads a GQA query group reads);
/// 2. average over the H/G heads of each group: (G, D, d) → (G·D, d); the same for W_V and for biases;
/// 3. build the GQA model (KvHeads = G) and copy every other parameter by name.
/// G = H gives the model back; G = 1 gives multi-query attention (Shazeer, 2019, arXiv 1911.02150).
/// </summary>
public static class GqaConversion
{
    /// <summary>Steps 1–2: mean-pools the heads of a projection weight (H·D, d) or bias (H·D) into <paramref name="groups"/> heads: (G·D, d) or (G·D).</summary>
    public static Tensor MeanPoolHeads(Tensor weight, int heads, int groups)
    {
        Check.NotNull(weight, nameof(weight));
        if (weight.dim() is not (1 or 2)) throw new ArgumentException($"{nameof(weight)}: expected a projection weight (H·D, d) or bias (H·D), got shape {Check.Shape(weight)}", nameof(weight));
        Check.FloatingPoint(weight, nameof(weight));
        Check.Positive(heads, nameof(heads));
        Check.Positive(groups, nameof(groups));
        if (heads % groups != 0) throw new ArgumentException($"{nameof(groups)}: expected a divisor of the {heads} heads, got {groups}", nameof(groups));
        long rows = weight.shape[0];
        if (rows % heads != 0) throw new ArgumentException($"{nameof(weight)}: {rows} rows do not split into {heads} heads", nameof(weight));
        using var scope = torch.NewDisposeScope();
        long dh = rows / heads;
        var w = weight.dim() == 2 ? weight : weight.unsqueeze(1);                            // (H·D, d')
        long cols = w.shape[1];
        var pooled = w.reshape(groups, heads / groups, dh, cols).mean([1]);                 // 1–2. (G, D, d')
        var result = pooled.reshape(groups * dh, cols);                                     //      (G·D, d')
        return (weight.dim() == 2 ? result : result.squeeze(1)).MoveToOuterDisposeScope();
    }

    /// <summary>Step 3: a new <see cref="TinyLm"/> with <paramref name="kvHeads"/> key/value heads from a model whose layers are <see cref="LlamaAttention"/>.</summary>
    public static TinyLm ToGqa(TinyLm model, int kvHeads)
    {
        ArgumentNullException.ThrowIfNull(model);
        var config = model.Config;
        if (config.Attention is not null || model.Layers.Any(l => l.Attention is not LlamaAttention))
            throw new ArgumentException($"{nameof(model)}: expected a model of LlamaAttention layers (MHA or GQA), got layout {config.LayoutName}", nameof(model));
        Check.Positive(kvHeads, nameof(kvHeads));
        int h = config.KvHeadCount;
        if (h % kvHeads != 0) throw new ArgumentException($"{nameof(kvHeads)}: expected a divisor of the model's {h} key/value heads, got {kvHeads}", nameof(kvHeads));
        var target = new TinyLm(config with { KvHeads = kvHeads, AttentionName = null }, model.Device, model.DType);
        var source = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in target.named_parameters())
        {
            var src = source[name];
            bool pooled = name.Contains(".self_attn.k_proj.") || name.Contains(".self_attn.v_proj.");
            using var value = pooled ? MeanPoolHeads(src, h, kvHeads) : src.detach().alias();
            p.copy_(value);
        }
        return target;
    }
}
