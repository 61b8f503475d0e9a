using AttnKit.Core;

namespace AttnKit.Models;

/// <summary>
/// The shape of a <see cref="TinyLm"/>: a Llama-style decoder. The attention layer is pluggable:
/// <see cref="Attention"/> makes the attention module of each layer (any <see cref="DecoderAttention"/>: grouped-query
/// by default; latent, tensor-product, cross-layer or other layouts by configuration).
/// </summary>
public sealed record TinyLmConfig
{
    /// <summary>Vocabulary size V.</summary>
    public required int VocabSize { get; init; }
    /// <summary>Model width d.</summary>
    public int ModelDim { get; init; } = 128;
    /// <summary>Decoder layers.</summary>
    public int Layers { get; init; } = 2;
    /// <summary>Query heads Hq.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Key/value heads Hkv (divides Hq); null: Hq.</summary>
    public int? KvHeads { get; init; }
    /// <summary>Head dim D; null: d / Hq.</summary>
    public int? HeadDim { get; init; }
    /// <summary>Hidden width of the SwiGLU MLP; null: 8d/3 rounded up to a multiple of 32 (as in Llama). 0: no MLP (attention-only model).</summary>
    public int? MlpDim { get; init; }
    /// <summary>Base of the rotary frequencies.</summary>
    public double RopeTheta { get; init; } = 10000.0;
    /// <summary>A stretch of the rotary frequencies for long contexts (null: plain RoPE).</summary>
    public Positional.RopeScaling? RopeScaling { get; init; }
    /// <summary>Rotate this many channels of each head (null: all; HF's partial_rotary_factor × D).</summary>
    public int? RotaryDim { get; init; }
    /// <summary>ε of RMSNorm.</summary>
    public double NormEps { get; init; } = 1e-5;
    /// <summary>Whether the output head shares the embedding matrix.</summary>
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>Biases on the q, k and v projections (Qwen2 has them).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Makes layer i's attention; null: <see cref="LlamaAttention"/> (MHA, GQA or MQA by <see cref="KvHeads"/>).</summary>
    public Func<TinyLmConfig, int, DecoderAttention>? Attention { get; init; }
    /// <summary>A short name of the attention layout for tables ("gqa", "mla" …); null: from the head counts.</summary>
    public string? AttentionName { get; init; }

    /// <summary>Hkv.</summary>
    public int KvHeadCount => KvHeads ?? Heads;
    /// <summary>D.</summary>
    public int Dim => HeadDim ?? (Heads > 0 ? ModelDim / Heads : 0);
    /// <summary>The MLP width in use.</summary>
    public int MlpWidth => MlpDim ?? (int)Math.Ceiling(8.0 * ModelDim / 3 / 32) * 32;
    /// <summary>Rotated channels per head.</summary>
    public int Rotary => RotaryDim ?? Dim;
    /// <summary>The attention layout's name.</summary>
    public string LayoutName => AttentionName ?? (KvHeadCount == Heads ? "mha" : KvHeadCount == 1 ? "mqa" : $"gqa-{KvHeadCount}");

    /// <summary>Checks every field; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        Check.Positive(VocabSize, nameof(VocabSize));
        Check.Positive(ModelDim, nameof(ModelDim));
        Check.Positive(Layers, nameof(Layers));
        Check.Positive(Heads, nameof(Heads));
        Check.Positive(KvHeadCount, nameof(KvHeads));
        if (HeadDim is null && ModelDim % Heads != 0)
            throw new ArgumentException($"{nameof(ModelDim)}: {ModelDim} is not divisible by the {Heads} heads; give {nameof(HeadDim)}", nameof(ModelDim));
        Check.Positive(Dim, nameof(HeadDim));
        if (Heads % KvHeadCount != 0)
            throw new ArgumentException($"{nameof(KvHeads)}: the {Heads} query heads must be a multiple of the {KvHeadCount} key/value heads", nameof(KvHeads));
        Check.NonNegative(MlpWidth, nameof(MlpDim));
        Check.PositiveFinite(RopeTheta, nameof(RopeTheta));
        Check.PositiveFinite(NormEps, nameof(NormEps));
        RopeScaling?.Validate();
        if (Rotary < 0 || Rotary > Dim || Rotary % 2 != 0)
            throw new ArgumentException($"{nameof(RotaryDim)}: expected an even number of channels from 0 to the head dim {Dim}, got {Rotary}", nameof(RotaryDim));
    }
}
