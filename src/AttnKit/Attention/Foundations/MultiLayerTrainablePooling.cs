using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// Multi-layers trainable pooling. Tang and Yang, "Pooling And Attention: What Are Effective Designs For LLM-Based
/// Embedding Models?", 2024 (arXiv 2409.02727), section 3: rather than the last layer's EOS state, the embedding is
/// read from the EOS states of ALL hidden layers by a small cross-attention network with trainable queries, so the
/// model learns which layers to trust.
/// 1. stack the EOS state of each of the L layers: (B, L, D), and add a learned embedding per layer;
/// 2. M trainable queries cross-attend over the L layer states (<see cref="MultiHeadAttention"/>);
/// 3. average the M outputs: the embedding (B, D).
/// (The per-layer embedding and the mean over queries are my reading of "learnable layer weights" and of the network;
/// the weights (B, heads, M, L) show how much each layer is read.)
/// </summary>
public sealed class MultiLayerTrainablePooling : nn.Module
{
    private readonly Parameter layerEmbedding, queries;
    private readonly MultiHeadAttention attention;

    /// <summary>A head over <paramref name="layers"/> layer states of width <paramref name="modelDim"/>.</summary>
    public MultiLayerTrainablePooling(int layers, int modelDim, int heads = 1, int queryCount = 1, Device? device = null) : base(nameof(MultiLayerTrainablePooling))
    {
        Check.Positive(layers, nameof(layers));
        Check.Positive(modelDim, nameof(modelDim));
        Check.Positive(heads, nameof(heads));
        Check.Positive(queryCount, nameof(queryCount));
        var dev = device ?? Kit.Device;
        (Layers, ModelDim) = (layers, modelDim);
        layerEmbedding = nn.Parameter(torch.zeros(layers, modelDim, device: dev));
        queries = nn.Parameter(torch.randn(queryCount, modelDim, device: dev) / Math.Sqrt(modelDim));
        attention = new MultiHeadAttention(new MultiHeadAttentionConfig(modelDim, heads), dev);
        RegisterComponents();
    }

    /// <summary>Number L of layers read.</summary>
    public int Layers { get; }
    /// <summary>Width D.</summary>
    public int ModelDim { get; }

    /// <summary>The EOS state of every layer (B, L, D) → the embedding (B, D) and the weights over layers (B, heads, M, L).</summary>
    public PoolingResult Forward(Tensor layerStates)
    {
        PoolingResult.CheckTokens(layerStates, null, ModelDim, queries, "(B, L, D)");
        Check.Dim(layerStates, 1, Layers, nameof(layerStates), "layers L");
        using var scope = torch.NewDisposeScope();
        long b = layerStates.shape[0];
        var z = layerStates + layerEmbedding;                                           // 1. (B, L, D)
        var q = queries.unsqueeze(0).expand(b, queries.shape[0], ModelDim);             //    (B, M, D)
        using var attended = attention.Forward(q, z, new AttentionOptions { ReturnWeights = true }); // 2. (B, M, D)
        return new PoolingResult(attended.Output.mean([1]), attended.Weights!.alias()).MoveToOuterDisposeScope(); // 3. (B, D)
    }
}
