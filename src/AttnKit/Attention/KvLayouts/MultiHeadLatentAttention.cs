using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.KvLayouts;

/// <summary>The shape of a multi-head latent attention layer beyond the model's head counts.</summary>
public sealed record MlaOptions
{
    /// <summary>Width d_c of the cached key/value latent c_KV.</summary>
    public required int LatentDim { get; init; }
    /// <summary>Width d_c' of the query latent; null: queries are projected directly (no query compression).</summary>
    public int? QueryLatentDim { get; init; }
    /// <summary>
    /// True (DeepSeek-V2's form, "MLA-Decoupled"): the first <see cref="TinyLmConfig.Rotary"/> channels of every query head
    /// are rotated and meet one rotated key k_R shared by all heads and cached beside the latent; the other channels come
    /// from the latent without positions. False ("MLA-PreRoPE"): keys are up-projected from the latent whole and rotated
    /// after, which rules out absorbing W_UK into the queries.
    /// </summary>
    public bool DecoupledRope { get; init; } = true;
    /// <summary>Value head dim Dv; null: the model's head dim.</summary>
    public int? ValueHeadDim { get; init; }
}

/// <summary>
/// Multi-head latent attention. DeepSeek-AI, "DeepSeek-V2: A Strong, Economical, and Efficient Mixture-of-Experts
/// Language Model", 2024 (arXiv 2405.04434), section 2.1. Keys and values of all heads are up-projected from one
/// low-rank latent c_KV per token, and only that latent (plus, with decoupled RoPE, one shared rotated key of d_r
/// channels) is cached: (d_c + d_r) elements per token instead of 2·H·D.
///
/// 1. latent: c_KV = x·W_DKV (B, N, d_c); decoupled: k_R = x·W_KR (B, 1, N, d_r), shared by the heads (eq. 9, 15);
/// 2. queries: q = x·W_Q, or c_Q = x·W_DQ then q = c_Q·W_UQ (eq. 12–14: W_UQ here holds both W_UQ and W_QR); per head
///    [q_R (d_r) | q_C (D − d_r)] (eq. 16);
/// 3. cache k_R (the "keys" slot, raw) and c_KV (the "values" slot) through <see cref="DecoderAttention.Attend"/>;
/// 4. expand every held token: k_C = c_KV·W_UK, v = c_KV·W_UV (eq. 10–11); k = [k_R | k_C] (eq. 17); RoPE on the first d_r channels;
/// 5. attend with scale 1/√D, merge heads, ·W_O (eq. 19).
/// With <see cref="Absorbed"/> (decoupled only) step 4–5 run in the latent as multi-query attention: q̂_h = [q_R,h | q_C,h·W_UK,hᵀ],
/// keys [k_R | c_KV], values c_KV, then o_h·W_UV,h (section 2.1.2: W_UK absorbed into W_UQ, W_UV into W_O). Same result, no
/// per-token up-projection at decode. The latent RMSNorms of DeepSeek-V2 are left out (so that a full-rank latent reproduces MHA exactly).
/// The parameter names follow Hugging Face's DeepSeek-V2 (q_proj or q_a_proj/q_b_proj, kv_a_proj_with_mqa, kv_b_proj, o_proj); the rotated
/// channels come first in each head here (RoPE of the kit rotates the leading channels), last in DeepSeek's checkpoints.
/// </summary>
public sealed class MultiHeadLatentAttention : DecoderAttention
{
    private readonly Linear? q_proj, q_a_proj, q_b_proj;
    private readonly Linear kv_a_proj_with_mqa, kv_b_proj, o_proj;
    private readonly int h, d, dr, dn, dv, dc;
    private readonly int modelDim;
    private readonly bool decoupled;
    private bool absorbed;

    /// <summary>A layer for a model of <paramref name="config"/>: Hq heads of dim D, of which <see cref="TinyLmConfig.Rotary"/> channels rotate.</summary>
    public MultiHeadLatentAttention(TinyLmConfig config, MlaOptions options, Device? device = null, ScalarType? dtype = null) : base(nameof(MultiHeadLatentAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        config.Validate();
        Check.Positive(options.LatentDim, nameof(options.LatentDim));
        if (options.QueryLatentDim is int qc) Check.Positive(qc, nameof(options.QueryLatentDim));
        (h, d, decoupled, dc) = (config.Heads, config.Dim, options.DecoupledRope, options.LatentDim);
        dv = options.ValueHeadDim ?? d;
        Check.Positive(dv, nameof(options.ValueHeadDim));
        dr = decoupled ? config.Rotary : 0;
        if (decoupled && (dr == 0 || dr >= d))
            throw new ArgumentException($"{nameof(options.DecoupledRope)}: the decoupled key takes the model's {config.Rotary} rotary channels of each head; expected 0 < RotaryDim < head dim {d}", nameof(options));
        dn = d - dr;
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        if (options.QueryLatentDim is int qLatent)
        {
            q_a_proj = nn.Linear(config.ModelDim, qLatent, false, dev, dt);
            q_b_proj = nn.Linear(qLatent, h * d, false, dev, dt);
        }
        else q_proj = nn.Linear(config.ModelDim, h * d, false, dev, dt);
        kv_a_proj_with_mqa = nn.Linear(config.ModelDim, dc + dr, false, dev, dt);
        kv_b_proj = nn.Linear(dc, h * (dn + dv), false, dev, dt);
        o_proj = nn.Linear(h * dv, config.ModelDim, false, dev, dt);
        modelDim = config.ModelDim;
        RegisterComponents();
    }

    /// <summary>(H, D, d_r, d_c, Dv): heads, query/key head dim, decoupled rotary channels (0 for PreRoPE), latent width, value head dim.</summary>
    public (int Heads, int HeadDim, int RopeDim, int LatentDim, int ValueDim) Shape => (h, d, dr, dc, dv);

    /// <summary>Whether the decoupled rotary key is used.</summary>
    public bool Decoupled => decoupled;

    /// <summary>Compute attention in the latent (W_UK and W_UV absorbed); only with decoupled RoPE.</summary>
    public bool Absorbed
    {
        get => absorbed;
        set
        {
            if (value && !decoupled) throw new ArgumentException("Absorbed: W_UK cannot be absorbed into the queries when RoPE rotates the up-projected keys (MLA-PreRoPE); use DecoupledRope", nameof(value));
            absorbed = value;
        }
    }

    /// <summary>W_DKV (with W_KR: kv_a_proj_with_mqa, (d_c + d_r, d)), W_UK/W_UV (kv_b_proj, (H·(D − d_r + Dv), d_c)), W_O, and the query projections.</summary>
    public (Linear KvDown, Linear KvUp, Linear O, Linear? Q, Linear? QDown, Linear? QUp) Projections => (kv_a_proj_with_mqa, kv_b_proj, o_proj, q_proj, q_a_proj, q_b_proj);

    /// <inheritdoc/>
    public override long KvBytesPerToken(int elementBytes) => (long)(dc + dr) * elementBytes;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, AttentionStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Check.Rank(x, 3, nameof(x), "(B, N, d)");
        Check.Dim(x, 2, modelDim, nameof(x), "the model width d");
        if (decoupled && step.Rope is not null && step.Rope.Dim != dr)
            throw new ArgumentException($"step.Rope: expected {dr} rotary channels (the decoupled key), got {step.Rope.Dim}", nameof(step));
        using var scope = torch.NewDisposeScope();
        long[] xs = x.shape;
        var (b, n) = (xs[0], xs[1]);
        var ckv = kv_a_proj_with_mqa.forward(x);                                            // 1. (B, N, d_c + d_r)
        var c = ckv.narrow(2, 0, dc).unsqueeze(1);                                          //    (B, 1, N, d_c)
        var kr = ckv.narrow(2, dc, dr).unsqueeze(1);                                        //    (B, 1, N, d_r)
        var qFlat = q_proj is not null ? q_proj.forward(x) : q_b_proj!.forward(q_a_proj!.forward(x)); // 2. (B, N, H·D)
        var q = qFlat.view(b, n, h, d).transpose(1, 2);                                     //    (B, H, N, D)
        double scale = 1.0 / Math.Sqrt(d);
        Tensor y;
        if (!absorbed)
        {
            var o = Attend(q, kr, c, step, scale, Expand);                                  // 3–5. (B, H, N, Dv)
            y = o_proj.forward(o.transpose(1, 2).reshape(b, n, h * dv));                   // 5. (B, N, d)
        }
        else
        {
            var w = kv_b_proj.weight!.view(h, dn + dv, dc);                                 //    (H, Dn + Dv, d_c)
            var wuk = w.narrow(1, 0, dn);                                                   //    (H, Dn, d_c)
            var wuv = w.narrow(1, dn, dv);                                                  //    (H, Dv, d_c)
            var qHat = torch.cat([q.narrow(3, 0, dr), torch.matmul(q.narrow(3, dr, dn), wuk)], 3); // (B, H, N, d_r + d_c)
            var oLatent = Attend(qHat, kr, c, step, scale, (k, v) => (torch.cat([k, v], 3), v)); // 3–5. MQA over (B, 1, L, d_r + d_c)
            var o = torch.matmul(oLatent, wuv.transpose(1, 2));                             //    (B, H, N, Dv)
            y = o_proj.forward(o.transpose(1, 2).reshape(b, n, h * dv));                   //    (B, N, d)
        }
        step.Weights?.MoveToOuterDisposeScope();
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Step 4: held (k_R, c_KV) → keys (B, H, L, D) and values (B, H, L, Dv).</summary>
    private (Tensor, Tensor) Expand(Tensor kr, Tensor c)
    {
        long[] cs = c.shape;
        var (b, l) = (cs[0], cs[2]);
        var kv = kv_b_proj.forward(c.squeeze(1)).view(b, l, h, dn + dv).transpose(1, 2);  // 4. (B, H, L, Dn + Dv)
        var kC = kv.narrow(3, 0, dn);                                                       //    (B, H, L, Dn)
        var v = kv.narrow(3, dn, dv);                                                       //    (B, H, L, Dv)
        var k = dr == 0 ? kC : torch.cat([kr.expand(b, h, l, dr), kC], 3);                  //    (B, H, L, D)
        return (k, v);
    }

    /// <summary>The effective per-head maps x → q_h and x → k_h (before RoPE): (H, D, d) each, for the spectrum of W_Q·W_Kᵀ.</summary>
    public (Tensor Wq, Tensor Wk) QueryKeyMaps()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var wq = q_proj is not null ? q_proj.weight!.detach() : torch.matmul(q_b_proj!.weight!, q_a_proj!.weight!); // (H·D, d)
        long model = wq.shape[1];
        var down = kv_a_proj_with_mqa.weight!;                                              // (d_c + d_r, d)
        var wuk = kv_b_proj.weight!.view(h, dn + dv, dc).narrow(1, 0, dn);                  // (H, Dn, d_c)
        var kC = torch.matmul(wuk, down.narrow(0, 0, dc));                                  // (H, Dn, d)
        var wk = dr == 0 ? kC : torch.cat([down.narrow(0, dc, dr).unsqueeze(0).expand(h, dr, model), kC], 1); // (H, D, d)
        return (wq.view(h, d, model).MoveToOuterDisposeScope(), wk.contiguous().MoveToOuterDisposeScope());
    }
}
