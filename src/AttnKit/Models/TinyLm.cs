using AttnKit.Attention.Masks;
using AttnKit.Cache;
using AttnKit.Core;
using AttnKit.Positional;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Models;

/// <summary>What a forward call may change besides the tokens and the cache.</summary>
public sealed record ForwardOptions
{
    /// <summary>A mask in place of the causal one (e.g. prefix-LM); only without a cache or with one that keeps every token.</summary>
    public AttentionMask? Mask { get; init; }
    /// <summary>Keep every layer's attention weights (B, Hq, N, L) in the result.</summary>
    public bool RecordWeights { get; init; }
}

/// <summary>The result of a forward call: logits (B, N, V), or hidden states for <see cref="TinyLm.ForwardEmbeddings"/>, and per-layer weights when asked.</summary>
public sealed class ForwardResult : IDisposable
{
    /// <summary>Logits (B, N, V) in the model's dtype, or hidden states (B, N, d).</summary>
    public required Tensor Output { get; init; }
    /// <summary>Attention weights per layer, (B, Hq, N, L) float32, when recorded.</summary>
    public IReadOnlyList<Tensor> Weights { get; init; } = [];

    /// <inheritdoc/>
    public void Dispose()
    {
        Output.Dispose();
        foreach (var w in Weights) w.Dispose();
    }
}

/// <summary>
/// One decoder layer: pre-norm attention and pre-norm SwiGLU MLP, each added to the residual stream.
/// 1. h = x + Attention(RMSNorm(x)); 2. y = h + MLP(RMSNorm(h)).
/// </summary>
public sealed class DecoderLayer : nn.Module
{
    private readonly RmsNorm input_layernorm, post_attention_layernorm;   // Hugging Face names
    private readonly DecoderAttention self_attn;
    private readonly SwiGlu? mlp;

    /// <summary>Layer <paramref name="index"/> of a model with this configuration.</summary>
    public DecoderLayer(TinyLmConfig config, int index, Device? device = null, ScalarType? dtype = null) : base(nameof(DecoderLayer))
    {
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        input_layernorm = new RmsNorm(config.ModelDim, config.NormEps, dev, dt);
        self_attn = config.Attention is null ? new LlamaAttention(config, dev, dt) : Place(config.Attention(config, index), dev, dt);
        post_attention_layernorm = new RmsNorm(config.ModelDim, config.NormEps, dev, dt);
        mlp = config.MlpWidth > 0 ? new SwiGlu(config.ModelDim, config.MlpWidth, dev, dt) : null;
        RegisterComponents();
    }

    /// <summary>The attention module.</summary>
    public DecoderAttention Attention => self_attn;

    /// <summary>A factory's module goes to the model's device and dtype (the factory makes it on the kit's).</summary>
    private static DecoderAttention Place(DecoderAttention attention, Device device, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(attention);
        attention.to(device);
        attention.to(dtype);
        return attention;
    }

    /// <summary>Runs the layer on the residual stream x (B, N, d).</summary>
    public Tensor Forward(Tensor x, AttentionStep step)
    {
        using var scope = torch.NewDisposeScope();
        var h = x + self_attn.Forward(input_layernorm.forward(x), step);                   // 1.
        if (mlp is not null) h = h + mlp.forward(post_attention_layernorm.forward(h));     // 2.
        step.Weights?.MoveToOuterDisposeScope();
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>The body of the model, named as in Hugging Face's LlamaModel (embed_tokens, layers, norm).</summary>
public sealed class TinyLmBody : nn.Module
{
    internal readonly Embedding embed_tokens;
    internal readonly ModuleList<DecoderLayer> layers;
    internal readonly RmsNorm norm;

    internal TinyLmBody(TinyLmConfig config, Device dev, ScalarType dt) : base("model")
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.ModelDim, device: dev, dtype: dt);
        layers = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(i => new DecoderLayer(config, i, dev, dt)).ToArray());
        norm = new RmsNorm(config.ModelDim, config.NormEps, dev, dt);
        RegisterComponents();
    }
}

/// <summary>
/// A small Llama-style decoder with pluggable attention and cache: token embedding, <see cref="TinyLmConfig.Layers"/>
/// pre-norm layers (attention from <see cref="TinyLmConfig.Attention"/>, SwiGLU MLP), a final RMSNorm and an output
/// head, tied to the embedding or not. Touvron et al., "LLaMA: Open and Efficient Foundation Language Models", 2023
/// (arXiv 2302.13971), section 2.2. Parameter names follow Hugging Face's LlamaForCausalLM (model.layers.0.self_attn.q_proj.weight …),
/// so that checkpoints in that layout load by name.
///
/// 1. x = E[tokens] (B, N, d); positions continue from what the cache has seen;
/// 2. each layer: x = x + Attention(RMSNorm(x)); x = x + MLP(RMSNorm(x));
/// 3. logits = RMSNorm(x)·Eᵀ (tied) or ·W_head (B, N, V).
/// </summary>
public sealed class TinyLm : nn.Module
{
    private readonly TinyLmBody model;
    private readonly Linear? lm_head;
    private readonly RotaryEmbedding? rope;

    /// <summary>The configuration.</summary>
    public TinyLmConfig Config { get; }

    /// <summary>A model with freshly initialised weights on <paramref name="device"/> (the kit's device by default).</summary>
    public TinyLm(TinyLmConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(TinyLm))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        model = new TinyLmBody(config, dev, dt);
        lm_head = config.TieEmbeddings ? null : nn.Linear(config.ModelDim, config.VocabSize, false, dev, dt);
        rope = config.Rotary > 0 ? new RotaryEmbedding(config.Rotary, config.RopeTheta, config.RopeScaling) : null;
        RegisterComponents();
        InitWeights();
    }

    /// <summary>The decoder layers.</summary>
    public IReadOnlyList<DecoderLayer> Layers => model.layers.ToList();

    /// <summary>The token embedding (V, d).</summary>
    public Embedding Embedding => model.embed_tokens;

    /// <summary>The rotary embedding (null when the configuration rotates no channel).</summary>
    public RotaryEmbedding? Rope => rope;

    /// <summary>The device of the parameters.</summary>
    public Device Device
    {
        get { using var w = model.embed_tokens.weight!; return w.device; }   // the getter makes a new handle: dispose it
    }

    /// <summary>The dtype of the parameters.</summary>
    public ScalarType DType
    {
        get { using var w = model.embed_tokens.weight!; return w.dtype; }
    }

    /// <summary>A growing cache for this model.</summary>
    public ModelCache NewCache() => ModelCache.Dynamic(Config.Layers);

    /// <summary>A cache for this model whose layer caches come from <paramref name="factory"/>.</summary>
    public ModelCache NewCache(Func<int, LayerCache> factory) => new(Config.Layers, factory);

    /// <summary>Cache bytes one token adds over all layers at <paramref name="elementBytes"/> per element.</summary>
    public long KvBytesPerToken(int elementBytes) => model.layers.Sum(l => l.Attention.KvBytesPerToken(elementBytes));

    /// <summary>Logits (B, N, V) for tokens (B, N) int64, appending to <paramref name="cache"/> when given.</summary>
    public Tensor Forward(Tensor tokens, ModelCache? cache = null)
    {
        using var result = Run(tokens, cache, null);
        return result.Output.alias();
    }

    /// <summary>Logits (B, N, V) and, when asked, every layer's attention weights.</summary>
    public ForwardResult Run(Tensor tokens, ModelCache? cache = null, ForwardOptions? options = null) => Run(tokens, cache, options, checkIds: true);

    /// <summary>
    /// <see cref="Run(Tensor, ModelCache?, ForwardOptions?)"/>; <paramref name="checkIds"/> false skips reading the ids
    /// back to the host for the range check (a device sync), for generation, whose ids are argmax or samples over the vocabulary.
    /// </summary>
    internal ForwardResult Run(Tensor tokens, ModelCache? cache, ForwardOptions? options, bool checkIds)
    {
        Check.Rank(tokens, 2, nameof(tokens), "(B, N)");
        if (tokens.dtype != ScalarType.Int64 && tokens.dtype != ScalarType.Int32)
            throw new ArgumentException($"{nameof(tokens)}: expected integer token ids, got {tokens.dtype}", nameof(tokens));
        CheckDevice(tokens, nameof(tokens));
        if (checkIds)
        {
            using var s = torch.NewDisposeScope();
            var range = torch.stack([tokens.min(), tokens.max()]).to(ScalarType.Int64).cpu().data<long>().ToArray(); // one host read for both ends
            var (lo, hi) = (range[0], range[1]);
            if (lo < 0 || hi >= Config.VocabSize)
                throw new ArgumentException($"{nameof(tokens)}: ids must be in [0, {Config.VocabSize}), got values from {lo} to {hi}", nameof(tokens));
        }
        using var scope = torch.NewDisposeScope();
        var x = model.embed_tokens.forward(tokens);                                        // 1. (B, N, d)
        var (h, weights) = Body(x, cache, options);
        var logits = lm_head is null ? torch.matmul(h, model.embed_tokens.weight!.t()) : lm_head.forward(h); // 3. (B, N, V)
        return Out(logits, weights);
    }

    /// <summary>
    /// The final hidden states (B, N, d) for input embeddings (B, N, d) instead of tokens, for tasks whose inputs are
    /// vectors (in-context regression); the caller reads out what it needs.
    /// </summary>
    public ForwardResult ForwardEmbeddings(Tensor embeddings, ModelCache? cache = null, ForwardOptions? options = null)
    {
        Check.Rank(embeddings, 3, nameof(embeddings), "(B, N, d)");
        Check.Dim(embeddings, 2, Config.ModelDim, nameof(embeddings), "the model width d");
        CheckDevice(embeddings, nameof(embeddings));
        if (embeddings.dtype != DType)
            throw new ArgumentException($"{nameof(embeddings)}: expected dtype {DType} like the model, got {embeddings.dtype}", nameof(embeddings));
        using var scope = torch.NewDisposeScope();
        var (h, weights) = Body(embeddings, cache, options);
        return Out(h, weights);
    }

    private (Tensor Hidden, List<Tensor> Weights) Body(Tensor x, ModelCache? cache, ForwardOptions? options)
    {
        if (cache is not null && cache.Layers.Count != Config.Layers)
            throw new ArgumentException($"{nameof(cache)}: expected a cache of {Config.Layers} layers, got {cache.Layers.Count}", nameof(cache));
        long start = cache?.Seen ?? 0, n = x.shape[1];
        var positions = torch.arange(start, start + n, ScalarType.Int64, x.device);       // 1.
        var shared = new Dictionary<string, object>();
        var weights = new List<Tensor>();
        try
        {
            for (int i = 0; i < model.layers.Count; i++)
            {
                var step = new AttentionStep { Layer = i, Positions = positions, FirstPosition = start, Rope = rope, Cache = cache?[i], Mask = options?.Mask, RecordWeights = options?.RecordWeights ?? false, Shared = shared };
                x = model.layers[i].Forward(x, step);                                      // 2.
                if (step.Weights is not null) weights.Add(step.Weights);
            }
        }
        finally
        {
            foreach (var d in shared.Values.OfType<IDisposable>()) d.Dispose();           // what layers shared lives for this call only
        }
        return (model.norm.forward(x), weights);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing) rope?.Dispose();
        base.Dispose(disposing);
    }

    private static ForwardResult Out(Tensor output, List<Tensor> weights)
    {
        output.MoveToOuterDisposeScope();
        foreach (var w in weights) w.MoveToOuterDisposeScope();
        return new ForwardResult { Output = output, Weights = weights };
    }

    private void CheckDevice(Tensor t, string name)
    {
        var dev = Device;
        if (t.device_type != dev.type || (dev.type == DeviceType.CUDA && t.device_index != dev.index))
            throw new ArgumentException($"{name}: expected a tensor on {dev} like the model, got one on {t.device}", name);
    }

    /// <summary>
    /// Initialises as GPT-2 and Llama do: normal(0, 0.02) for embeddings and projections, the residual outputs scaled by
    /// 1/√(2·layers). The draws come from the CPU generator (torch.manual_seed) and are copied to the device, so a seed
    /// gives the same model on every device.
    /// </summary>
    private void InitWeights()
    {
        using var noGrad = torch.no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("layernorm.weight") || name.EndsWith("norm.weight")) continue;
            if (name.EndsWith(".bias")) { p.zero_(); continue; }
            double std = 0.02;
            if (name.EndsWith("o_proj.weight") || name.EndsWith("down_proj.weight")) std /= Math.Sqrt(2.0 * Config.Layers);
            using var scope = torch.NewDisposeScope();
            p.copy_(torch.empty(p.shape, ScalarType.Float32).normal_(0, std));            // on the CPU: what nn.init.normal_ draws there
        }
    }
}
