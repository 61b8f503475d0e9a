using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.KvLayouts;

/// <summary>
/// Grouped-query attention written as multi-head latent attention. Meng, Yao and Zhang, "TransMLA: Multi-head Latent
/// Attention Is All You Need", 2025 (arXiv 2502.07864), section 3 (v2): instead of repeating the Hkv cached key heads to
/// the H query heads at run time, repeat W_K itself; the repeated matrix factors as W_K (the down-projection to a
/// latent of 2·Hkv·D channels: the GQA cache itself) times a replication matrix (the up-projection). So every GQA layer
/// is an MLA layer with the same cache, while an MLA layer whose up-projection is not a replication is no GQA layer.
///
/// 1. latent c_KV = x·[W_K; W_V] (B, N, 2·Hkv·D): exactly what GQA caches;
/// 2. W_UK, W_UV: for query head i, copy the key and value slices of its group g = i / (H / Hkv) (an identity block per head);
/// 3. keep W_Q and W_O; RoPE stays on the up-projected keys (MLA-PreRoPE), so the result is exact;
/// 4. optionally compress the latent to r channels: W_D = U·S·Vᵀ, keep the top r: W_D' = S_r·V_rᵀ, W_U' = W_U·U_r. The
///    replication has orthogonal columns of equal norm, so this is the best rank-r approximation of W_U·W_D.
/// The paper goes further (v5: RoRoPE and FreqFold move positional information into one decoupled rotary head, PCA on
/// activations compresses the latent, then fine-tuning); those steps are left out here.
/// </summary>
public static class TransMla
{
    /// <summary>Steps 1–3 (and 4 with <paramref name="latentRank"/>): an MLA layer computing what <paramref name="gqa"/> computes.</summary>
    public static MultiHeadLatentAttention FromGqa(LlamaAttention gqa, TinyLmConfig config, int? latentRank = null)
    {
        ArgumentNullException.ThrowIfNull(gqa);
        ArgumentNullException.ThrowIfNull(config);
        var (hq, hkv, d) = gqa.Heads;
        if (config.Heads != hq || config.KvHeadCount != hkv || config.Dim != d)
            throw new ArgumentException($"{nameof(config)}: expected the layer's heads ({hq} query, {hkv} key/value, dim {d}), got ({config.Heads}, {config.KvHeadCount}, {config.Dim})", nameof(config));
        if (config.QkvBias) throw new ArgumentException($"{nameof(config)}: q/k/v biases have no place in this MLA form; expected QkvBias = false", nameof(config));
        int full = 2 * hkv * d;
        int rank = latentRank ?? full;
        if (rank < 1 || rank > full) throw new ArgumentException($"{nameof(latentRank)}: expected 1 … {full} (2·Hkv·D), got {rank}", nameof(latentRank));
        var (wqL, wkL, wvL, woL) = gqa.Projections;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var dev = wqL.weight!.device;
        var down = torch.cat([wkL.weight!, wvL.weight!], 0);                               // 1. (2·Hkv·D, d)
        long groups = hq / hkv;
        var up = torch.zeros(hq * 2L * d, full, down.dtype, dev);                           // 2. (H·(D + D), 2·Hkv·D), per head [k (D) | v (D)]
        var eye = torch.eye(d, d, down.dtype, dev);
        for (int i = 0; i < hq; i++)
        {
            long g = i / groups;
            up.narrow(0, i * 2L * d, d).narrow(1, g * d, d).copy_(eye);                    //    key slice of group g
            up.narrow(0, i * 2L * d + d, d).narrow(1, hkv * d + g * d, d).copy_(eye);      //    value slice of group g
        }
        if (rank < full)
        {
            var (u, s, vh) = torch.linalg.svd(down.to(ScalarType.Float32), fullMatrices: false); // 4. (2HkvD, k), (k), (k, d), k = min(2HkvD, d)
            int keep = (int)Math.Min(rank, s.shape[0]);                                          //    a latent wider than d adds nothing: pad with zeros
            down = (s.narrow(0, 0, keep).unsqueeze(1) * vh.narrow(0, 0, keep)).to(up.dtype);     //    (r, d)
            up = torch.matmul(up, u.narrow(1, 0, keep).to(up.dtype));                            //    (H·2D, r)
            if (keep < rank)
            {
                down = torch.cat([down, torch.zeros(rank - keep, down.shape[1], down.dtype, dev)], 0);
                up = torch.cat([up, torch.zeros(up.shape[0], rank - keep, up.dtype, dev)], 1);
            }
        }
        var mla = new MultiHeadLatentAttention(config, new MlaOptions { LatentDim = rank, DecoupledRope = false }, dev, down.dtype);
        var (kvDown, kvUp, o, q, _, _) = mla.Projections;
        q!.weight!.copy_(wqL.weight!);                                                      // 3.
        kvDown.weight!.copy_(down);
        kvUp.weight!.copy_(up);
        o.weight!.copy_(woL.weight!);
        return mla;
    }

    /// <summary>A new <see cref="TinyLm"/> whose every layer is <see cref="FromGqa"/> of the GQA model's layer; all other weights copied.</summary>
    public static TinyLm ToMla(TinyLm gqa, int? latentRank = null)
    {
        ArgumentNullException.ThrowIfNull(gqa);
        if (gqa.Layers.Any(l => l.Attention is not LlamaAttention))
            throw new ArgumentException($"{nameof(gqa)}: expected a model of LlamaAttention layers (MHA, GQA or MQA), got layout {gqa.Config.LayoutName}", nameof(gqa));
        var converted = gqa.Layers.Select(l => FromGqa((LlamaAttention)l.Attention, gqa.Config, latentRank)).ToArray();
        var (dev, dt) = (gqa.Device, gqa.DType);
        int rank = converted[0].Shape.LatentDim;
        var config = gqa.Config with
        {
            Attention = (c, i) => new MultiHeadLatentAttention(c, new MlaOptions { LatentDim = rank, DecoupledRope = false }, dev, dt),
            AttentionName = latentRank is int r ? $"transmla-{r}" : "transmla",
        };
        var target = new TinyLm(config, dev, dt);                                          // initialises every weight: overwrite them all
        var source = gqa.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        for (int i = 0; i < converted.Length; i++)
            foreach (var (name, p) in converted[i].named_parameters()) source[$"model.layers.{i}.self_attn.{name}"] = p;
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in target.named_parameters()) p.copy_(source[name]);
        foreach (var c in converted) c.Dispose();
        return target;
    }
}
