using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention;

/// <summary>
/// The shape of a multi-head attention layer. Query heads and key/value heads are counted separately, so
/// multi-head (KeyValueHeads = QueryHeads), grouped-query (a divisor) and multi-query (1) attention are configurations.
/// </summary>
/// <param name="ModelDim">Width of the input and output, d_model.</param>
/// <param name="QueryHeads">Number of query heads Hq.</param>
/// <param name="KeyValueHeads">Number of key/value heads Hkv; divides Hq. Null: Hq (multi-head).</param>
/// <param name="HeadDim">Per-head width D; null: ModelDim / QueryHeads.</param>
/// <param name="ContextDim">Width of the context for cross-attention keys and values; null: ModelDim.</param>
/// <param name="Bias">Whether the projections have biases.</param>
public sealed record MultiHeadAttentionConfig(int ModelDim, int QueryHeads, int? KeyValueHeads = null, int? HeadDim = null, int? ContextDim = null, bool Bias = false)
{
    /// <summary>Hkv.</summary>
    public int KvHeads => KeyValueHeads ?? QueryHeads;
    /// <summary>D.</summary>
    public int Dim => HeadDim ?? (QueryHeads > 0 ? ModelDim / QueryHeads : 0);
    /// <summary>Width of the key/value input.</summary>
    public int KvInputDim => ContextDim ?? ModelDim;

    /// <summary>Checks the configuration; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        Check.Positive(ModelDim, nameof(ModelDim));
        Check.Positive(QueryHeads, nameof(QueryHeads));
        Check.Positive(KvHeads, nameof(KeyValueHeads));
        Check.Positive(KvInputDim, nameof(ContextDim));
        if (HeadDim is null && ModelDim % QueryHeads != 0)
            throw new ArgumentException($"{nameof(ModelDim)}: {ModelDim} is not divisible by the {QueryHeads} query heads; give {nameof(HeadDim)}", nameof(ModelDim));
        Check.Positive(Dim, nameof(HeadDim));
        if (QueryHeads % KvHeads != 0)
            throw new ArgumentException($"{nameof(KeyValueHeads)}: the {QueryHeads} query heads must be a multiple of the {KvHeads} key/value heads", nameof(KeyValueHeads));
    }
}

/// <summary>
/// Multi-head attention. Vaswani et al., "Attention Is All You Need", 2017 (arXiv 1706.03762), section 3.2.2;
/// with fewer key/value heads as in Shazeer, "Fast Transformer Decoding: One Write-Head is All You Need", 2019
/// (arXiv 1911.02150, multi-query) and Ainslie et al., "GQA", 2023 (arXiv 2305.13245, grouped-query).
///
/// 1. project: q = x·W_q (B, N, Hq·D), k = c·W_k, v = c·W_v (B, M, Hkv·D), where c = x for self-attention and the
///    context for cross-attention;
/// 2. split heads: (B, N, H·D) → (B, H, N, D);
/// 3. attend per head with <see cref="ScaledDotProductAttention"/> (masks, score modifiers, weights as asked);
/// 4. concatenate heads and project: (B, Hq, N, D) → (B, N, Hq·D) → ·W_o → (B, N, d_model).
/// </summary>
public sealed class MultiHeadAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear wq, wk, wv, wo;

    /// <summary>The configuration.</summary>
    public MultiHeadAttentionConfig Config { get; }

    /// <summary>Creates the layer on the kit's device (or <paramref name="device"/>), with TorchSharp's default Linear initialisation.</summary>
    public MultiHeadAttention(MultiHeadAttentionConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(MultiHeadAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var dev = device ?? Kit.Device;
        var dt = dtype ?? Kit.DType;
        wq = nn.Linear(config.ModelDim, config.QueryHeads * config.Dim, config.Bias, dev, dt);
        wk = nn.Linear(config.KvInputDim, config.KvHeads * config.Dim, config.Bias, dev, dt);
        wv = nn.Linear(config.KvInputDim, config.KvHeads * config.Dim, config.Bias, dev, dt);
        wo = nn.Linear(config.QueryHeads * config.Dim, config.ModelDim, config.Bias, dev, dt);
        RegisterComponents();
    }

    /// <summary>The query projection.</summary>
    public Linear QueryProjection => wq;
    /// <summary>The key projection.</summary>
    public Linear KeyProjection => wk;
    /// <summary>The value projection.</summary>
    public Linear ValueProjection => wv;
    /// <summary>The output projection.</summary>
    public Linear OutputProjection => wo;

    /// <summary>Self-attention without a mask: x (B, N, d_model) → (B, N, d_model).</summary>
    public override Tensor forward(Tensor x)
    {
        using var result = Forward(x);
        return result.Output.alias();
    }

    /// <summary>
    /// Attention of <paramref name="x"/> (B, N, d_model) over itself, or over <paramref name="context"/> (B, M, ContextDim)
    /// for cross-attention. The result's output is (B, N, d_model); its weights, when asked for, are per head (B, Hq, N, M).
    /// </summary>
    public AttentionResult Forward(Tensor x, Tensor? context = null, AttentionOptions? options = null)
    {
        Check.Rank(x, 3, nameof(x), "(B, N, d_model)");
        Check.FloatingPoint(x, nameof(x));
        Check.Dim(x, 2, Config.ModelDim, nameof(x), "d_model");
        if (context is not null)
        {
            Check.Rank(context, 3, nameof(context), "(B, M, ContextDim)");
            Check.SameDType(x, nameof(x), context, nameof(context));
            Check.SameDevice(x, nameof(x), context, nameof(context));
            Check.Dim(context, 0, x.shape[0], nameof(context), "batch B like x");
            Check.Dim(context, 2, Config.KvInputDim, nameof(context), "ContextDim");
        }
        else if (Config.KvInputDim != Config.ModelDim)
        {
            throw new ArgumentException($"{nameof(context)}: this layer was configured for cross-attention (ContextDim {Config.KvInputDim}); give a context", nameof(context));
        }
        var weight = wq.weight!;
        if (x.device_type != weight.device_type || x.device_index != weight.device_index)
            throw new ArgumentException($"{nameof(x)}: expected a tensor on {weight.device} like the layer's parameters, got one on {x.device}", nameof(x));
        if (x.dtype != weight.dtype)
            throw new ArgumentException($"{nameof(x)}: expected dtype {weight.dtype} like the layer's parameters, got {x.dtype}", nameof(x));

        using var scope = torch.NewDisposeScope();
        var c = context ?? x;
        var (b, n, m) = (x.shape[0], x.shape[1], c.shape[1]);
        var (hq, hkv, d) = (Config.QueryHeads, Config.KvHeads, Config.Dim);
        var q = wq.forward(x).view(b, n, hq, d).transpose(1, 2);   // 1–2. (B, Hq, N, D)
        var k = wk.forward(c).view(b, m, hkv, d).transpose(1, 2);  //      (B, Hkv, M, D)
        var v = wv.forward(c).view(b, m, hkv, d).transpose(1, 2);  //      (B, Hkv, M, D)
        var attn = ScaledDotProductAttention.Compute(q, k, v, options); // 3.
        var o = attn.Output.transpose(1, 2).reshape(b, n, hq * d); // 4. (B, N, Hq·D)
        return new AttentionResult(wo.forward(o), attn.Weights, attn.LogSumExp).MoveToOuterDisposeScope();
    }
}
