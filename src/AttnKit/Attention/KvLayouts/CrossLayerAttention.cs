using AttnKit.Cache;
using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.KvLayouts;

/// <summary>
/// Cross-layer attention: adjacent layers share one set of keys and values. Brandon, Mishra, Nrusimha, Panda and
/// Ragan-Kelley, "Reducing Transformer Key-Value Cache Size with Cross-Layer Attention", 2024 (arXiv 2405.12981),
/// section 2. In each run of <see cref="SharingFactor"/> layers only the first (the producer) projects keys and values
/// and caches them; the others (consumers) project only queries and attend to the producer's keys and values. The
/// cache shrinks by the sharing factor on top of whatever MQA or GQA already saves (CLA2 with MQA in the paper).
///
/// 1. producer (layer index divisible by the factor): q, k, v as in GQA; attend over its cache; hand its raw k, v and
///    the cache's view of every held token to the next layers through <see cref="AttentionStep.Shared"/>;
/// 2. consumer: q only; attend to the producer's keys and values (rotated the same way, masked the same way); its own
///    cache only counts the tokens (zero-width entries, 0 bytes), so that cropping or reordering the model's cache works;
/// 3. merge heads, ·W_O.
/// </summary>
public sealed class CrossLayerAttention : DecoderAttention
{
    private readonly Linear q_proj, o_proj;
    private readonly Linear? k_proj, v_proj;
    private readonly int hq, hkv, d, layer, producer;
    private readonly int modelDim;

    /// <summary>Layer <paramref name="layer"/> of a model whose runs of <paramref name="sharingFactor"/> layers share keys and values (Hkv heads from the config).</summary>
    public CrossLayerAttention(TinyLmConfig config, int layer, int sharingFactor = 2, Device? device = null, ScalarType? dtype = null) : base(nameof(CrossLayerAttention))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Check.NonNegative(layer, nameof(layer));
        Check.Positive(sharingFactor, nameof(sharingFactor));
        (hq, hkv, d, this.layer, SharingFactor) = (config.Heads, config.KvHeadCount, config.Dim, layer, sharingFactor);
        producer = layer - layer % sharingFactor;
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        q_proj = nn.Linear(config.ModelDim, hq * d, config.QkvBias, dev, dt);
        if (IsProducer)
        {
            k_proj = nn.Linear(config.ModelDim, hkv * d, config.QkvBias, dev, dt);
            v_proj = nn.Linear(config.ModelDim, hkv * d, config.QkvBias, dev, dt);
        }
        o_proj = nn.Linear(hq * d, config.ModelDim, false, dev, dt);
        modelDim = config.ModelDim;
        RegisterComponents();
    }

    /// <summary>(Hq, Hkv, D).</summary>
    public (int QueryHeads, int KvHeads, int HeadDim) Heads => (hq, hkv, d);

    /// <summary>Layers per shared key/value set.</summary>
    public int SharingFactor { get; }

    /// <summary>Whether this layer computes and caches keys and values.</summary>
    public bool IsProducer => layer == producer;

    /// <inheritdoc/>
    public override long KvBytesPerToken(int elementBytes) => IsProducer ? 2L * hkv * d * elementBytes : 0;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor x, AttentionStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Check.Rank(x, 3, nameof(x), "(B, N, d)");
        Check.Dim(x, 2, modelDim, nameof(x), "the model width d");
        if (step.Layer != layer) throw new ArgumentException($"step.Layer: this module was made for layer {layer}, got a step for layer {step.Layer}", nameof(step));
        using var scope = torch.NewDisposeScope();
        long[] xs = x.shape;
        var (b, n) = (xs[0], xs[1]);
        var q = q_proj.forward(x).view(b, n, hq, d).transpose(1, 2);                       // (B, Hq, N, D)
        string key = $"cla:{producer}";
        Tensor o;
        if (IsProducer)
        {
            var k = k_proj!.forward(x).view(b, n, hkv, d).transpose(1, 2);                 // 1. (B, Hkv, N, D)
            var v = v_proj!.forward(x).view(b, n, hkv, d).transpose(1, 2);                 //    (B, Hkv, N, D)
            using var capture = step.Cache is null ? null : new CapturingCache(step.Cache);
            var inner = step.WithCache(capture);
            o = Attend(q, k, v, inner);
            step.Weights = inner.Weights;
            if (step.Shared.Remove(key, out var old) && old is IDisposable disposable) disposable.Dispose();
            step.Shared[key] = new SharedKv(k, v, capture?.Last, step.Cache?.StoresRotatedKeys ?? true);
        }
        else
        {
            if (!step.Shared.TryGetValue(key, out var found) || found is not SharedKv shared)
                throw new ArgumentException($"step.Shared: layer {layer} reads the keys and values of layer {producer}, which has not run in this forward call", nameof(step));
            if (step.Cache is not null)
            {
                // the consumer's own cache holds zero-width entries: no bytes, but the same token count as the producer's, so that Crop and Reorder of the model cache stay consistent
                using var empty = torch.zeros(b, hkv, n, 0, x.dtype, x.device);
                var own = step.Cache.Update(new CacheUpdate(empty, empty, null, step.Positions));
                foreach (var t in new[] { own.Keys, own.Values, own.KeyPositions, own.Valid, own.RotaryKeyPositions, own.SinkQueryPositions }) t?.Dispose();
            }
            using var view = shared.View is null ? null : new SharedViewCache(shared.View, shared.StoresRotatedKeys);
            var inner = step.WithCache(view);
            o = Attend(q, shared.Keys.alias(), shared.Values.alias(), inner);              // 2.
            step.Weights = inner.Weights;
        }
        var y = o_proj.forward(o.transpose(1, 2).reshape(b, n, hq * d));                   // 3. (B, N, d)
        step.Weights?.MoveToOuterDisposeScope();
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>What a producer hands its consumers for one forward call: tensors outside any dispose scope, freed when the call ends.</summary>
    private sealed class SharedKv : IDisposable
    {
        public SharedKv(Tensor keys, Tensor values, CacheView? view, bool storesRotatedKeys)
        {
            Keys = Keep(keys)!;
            Values = Keep(values)!;
            StoresRotatedKeys = storesRotatedKeys;
            if (view is not null)
                View = view with
                {
                    Keys = Keep(view.Keys)!, Values = Keep(view.Values)!, KeyPositions = Keep(view.KeyPositions), Valid = Keep(view.Valid),
                    RotaryKeyPositions = Keep(view.RotaryKeyPositions), SinkQueryPositions = Keep(view.SinkQueryPositions),
                };
        }

        public Tensor Keys { get; }
        public Tensor Values { get; }
        public CacheView? View { get; }
        public bool StoresRotatedKeys { get; }

        private static Tensor? Keep(Tensor? t) => t?.alias().DetachFromDisposeScope();

        public void Dispose()
        {
            Keys.Dispose();
            Values.Dispose();
            if (View is null) return;
            foreach (var t in new[] { View.Keys, View.Values, View.KeyPositions, View.Valid, View.RotaryKeyPositions, View.SinkQueryPositions }) t?.Dispose();
        }
    }

    /// <summary>Passes updates to the producer's cache and remembers the view it returned.</summary>
    private sealed class CapturingCache(LayerCache inner) : LayerCache
    {
        public CacheView? Last { get; private set; }
        public override bool StoresRotatedKeys => inner.StoresRotatedKeys;
        public override long Length => inner.Length;
        public override long StorageBytes => inner.StorageBytes;
        public override CacheView Update(CacheUpdate update) => Last = inner.Update(update);
        public override void Reset() => inner.Reset();
        protected override void Dispose(bool disposing) { }   // the producer's cache belongs to the model cache
    }

    /// <summary>A consumer's read-only cache: every update returns the producer's view of the held tokens.</summary>
    private sealed class SharedViewCache(CacheView view, bool storesRotatedKeys) : LayerCache
    {
        public override bool StoresRotatedKeys => storesRotatedKeys;
        public override long Length => view.Keys.shape[2];
        public override long StorageBytes => 0;
        public override CacheView Update(CacheUpdate update) => view with
        {
            Keys = view.Keys.alias(), Values = view.Values.alias(), KeyPositions = view.KeyPositions?.alias(), Valid = view.Valid?.alias(),
            RotaryKeyPositions = view.RotaryKeyPositions?.alias(), SinkQueryPositions = view.SinkQueryPositions?.alias(),
        };
        public override void Reset() { }
        protected override void Dispose(bool disposing) { }
    }
}
