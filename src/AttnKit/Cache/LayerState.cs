using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache;

/// <summary>
/// Named tensors of fixed size that an attention layout keeps between forward calls besides its per-token keys and
/// values: a causal convolution's last inputs, the previous token's projection (compressed convolutional attention).
/// It lives in the layer's <see cref="LayerCache"/>, so that it starts and ends with the cache; it does not grow with
/// the tokens and is not counted in <see cref="LayerCache.StorageBytes"/> (<see cref="Bytes"/> counts it).
/// </summary>
public sealed class LayerState : IDisposable
{
    private readonly Dictionary<string, Tensor> items = new(StringComparer.Ordinal);

    /// <summary>The tensor kept under <paramref name="name"/>, or null; the caller gets a new handle (dispose it, or let its scope do it).</summary>
    public Tensor? Get(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return items.TryGetValue(name, out var t) ? t.alias() : null;
    }

    /// <summary>Keeps a detached copy of <paramref name="value"/> under <paramref name="name"/>, freeing what was there.</summary>
    public void Set(string name, Tensor value)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        Core.Check.NotNull(value, nameof(value));
        var kept = value.detach().clone().DetachFromDisposeScope();
        if (items.Remove(name, out var old)) old.Dispose();
        items[name] = kept;
    }

    /// <summary>Bytes held.</summary>
    public long Bytes => items.Values.Sum(t => t.NumberOfElements * t.ElementSize);

    /// <summary>Names held.</summary>
    public IReadOnlyCollection<string> Names => items.Keys;

    /// <summary>Frees every tensor.</summary>
    public void Clear()
    {
        foreach (var t in items.Values) t.Dispose();
        items.Clear();
    }

    /// <inheritdoc/>
    public void Dispose() => Clear();
}
