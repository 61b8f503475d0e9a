using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// Attention-based aggregation with a class token. Touvron et al., "Augmenting Convolutional networks with
/// attention-based aggregation", 2021 (arXiv 2112.13692), section 3, using the class-attention block of CaiT (Touvron
/// et al., "Going deeper with Image Transformers", 2021, arXiv 2103.17239): instead of averaging the patch features, a
/// learned class token reads them through one transformer block in which only the class token is a query, so the
/// weights say how much each patch counts for the classification.
/// 1. z = [x_cls; x_patches] (B, 1 + N, D);
/// 2. x_cls ← x_cls + MultiHead(LN(x_cls), LN(z), LN(z)) (the class token is the only query; keys and values are all of z);
/// 3. x_cls ← x_cls + FFN(LN(x_cls));
/// 4. the class token (B, D) goes to the classifier.
/// </summary>
public sealed class ClassAttentionPooling : nn.Module
{
    private readonly Parameter cls;
    private readonly MultiHeadAttention attention;
    private readonly LayerNorm norm1, norm2;
    private readonly Sequential ffn;

    /// <summary>A block over patches of width <paramref name="modelDim"/> with <paramref name="heads"/> heads.</summary>
    public ClassAttentionPooling(int modelDim, int heads = 1, Device? device = null) : base(nameof(ClassAttentionPooling))
    {
        Check.Positive(modelDim, nameof(modelDim));
        Check.Positive(heads, nameof(heads));
        var dev = device ?? Kit.Device;
        ModelDim = modelDim;
        cls = nn.Parameter(torch.randn(1, 1, modelDim, device: dev) * 0.02);
        attention = new MultiHeadAttention(new MultiHeadAttentionConfig(modelDim, heads), dev);
        norm1 = nn.LayerNorm(modelDim, device: dev);
        norm2 = nn.LayerNorm(modelDim, device: dev);
        ffn = nn.Sequential(nn.Linear(modelDim, 2 * modelDim, device: dev), nn.GELU(), nn.Linear(2 * modelDim, modelDim, device: dev));
        RegisterComponents();
    }

    /// <summary>Width D of the patches.</summary>
    public int ModelDim { get; }

    /// <summary>Patches (B, N, D), optional (B, N) mask → the class token (B, D) and its weights over [cls; patches] (B, heads, 1, 1 + N).</summary>
    public PoolingResult Forward(Tensor patches, Tensor? allowed = null)
    {
        PoolingResult.CheckTokens(patches, allowed, ModelDim, cls);
        using var scope = torch.NewDisposeScope();
        long b = patches.shape[0], n = patches.shape[1];
        var x = cls.expand(b, 1, ModelDim);                                             // (B, 1, D)
        var z = torch.cat([x, patches], 1);                                             // 1. (B, 1 + N, D)
        Tensor? mask = allowed is null ? null : torch.cat([torch.ones(b, 1, ScalarType.Bool, patches.device), allowed], 1).view(b, 1, 1, n + 1);
        var zn = norm1.forward(z);
        using var attended = attention.Forward(zn[.., ..1], zn, new AttentionOptions { ReturnWeights = true, MaskTensor = mask });
        x = x + attended.Output;                                                        // 2.
        x = x + ffn.forward(norm2.forward(x));                                          // 3.
        return new PoolingResult(x.squeeze(1), attended.Weights!.alias()).MoveToOuterDisposeScope(); // 4. (B, D)
    }
}
