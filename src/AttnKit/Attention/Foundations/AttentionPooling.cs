using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// Pooling by multihead attention (PMA) with learned queries, the pooling head of Qin et al., "C2LLM Technical Report:
/// A New Frontier in Code Retrieval via Adaptive Cross-Attention Pooling", 2025 (arXiv 2512.21332), which takes the
/// PMA block of Lee et al., "Set Transformer", 2019 (arXiv 1810.00825, section 3.2): M learned seed vectors
/// cross-attend to all token states of a sequence, so the embedding is a learned, input-dependent mix of every token
/// instead of the EOS state alone; the output width is a free choice (a projection), not tied to the backbone's.
/// 1. queries: the M learned seeds S (M, D);
/// 2. H = LayerNorm(S + MultiHead(S, Z, Z)) with padding keys masked out (cross-attention, <see cref="MultiHeadAttention"/>);
/// 3. O = LayerNorm(H + FFN(H)) (the Set Transformer's MAB);
/// 4. project to the embedding width: O·W_out (B, M, Dout).
/// </summary>
public sealed class AttentionPooling : nn.Module
{
    private readonly Parameter seeds;
    private readonly MultiHeadAttention attention;
    private readonly LayerNorm norm1, norm2;
    private readonly Sequential ffn;
    private readonly Linear output;

    /// <summary>A head over tokens of width <paramref name="modelDim"/>, with <paramref name="queries"/> seeds, <paramref name="heads"/> heads and output width <paramref name="outputDim"/>.</summary>
    public AttentionPooling(int modelDim, int heads = 1, int queries = 1, int? outputDim = null, Device? device = null) : base(nameof(AttentionPooling))
    {
        Check.Positive(modelDim, nameof(modelDim));
        Check.Positive(heads, nameof(heads));
        Check.Positive(queries, nameof(queries));
        if (outputDim is int o) Check.Positive(o, nameof(outputDim));
        var dev = device ?? Kit.Device;
        ModelDim = modelDim;
        seeds = nn.Parameter(torch.randn(queries, modelDim, device: dev) / Math.Sqrt(modelDim));
        attention = new MultiHeadAttention(new MultiHeadAttentionConfig(modelDim, heads), dev);
        norm1 = nn.LayerNorm(modelDim, device: dev);
        norm2 = nn.LayerNorm(modelDim, device: dev);
        ffn = nn.Sequential(nn.Linear(modelDim, 2 * modelDim, device: dev), nn.ReLU(), nn.Linear(2 * modelDim, modelDim, device: dev));
        output = nn.Linear(modelDim, outputDim ?? modelDim, device: dev);
        RegisterComponents();
    }

    /// <summary>Width D of the pooled tokens.</summary>
    public int ModelDim { get; }

    /// <summary>
    /// Pools tokens (B, N, D), optionally with a (B, N) mask (true = a real token): the pooled result (B, M, Dout) and
    /// the weights (B, heads, M, N).
    /// </summary>
    public PoolingResult Forward(Tensor tokens, Tensor? allowed = null)
    {
        PoolingResult.CheckTokens(tokens, allowed, ModelDim, seeds);
        using var scope = torch.NewDisposeScope();
        long b = tokens.shape[0];
        var s = seeds.unsqueeze(0).expand(b, seeds.shape[0], ModelDim);                 // 1. (B, M, D)
        var options = new AttentionOptions { ReturnWeights = true, MaskTensor = allowed?.view(b, 1, 1, tokens.shape[1]) };
        using var attended = attention.Forward(s, tokens, options);                     // 2. (B, M, D)
        var h = norm1.forward(s + attended.Output);
        var o = norm2.forward(h + ffn.forward(h));                                      // 3.
        return new PoolingResult(output.forward(o), attended.Weights!.alias()).MoveToOuterDisposeScope(); // 4. (B, M, Dout)
    }
}
