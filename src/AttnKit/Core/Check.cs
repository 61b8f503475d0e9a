using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Core;

/// <summary>
/// Argument checks for public entries: each throws <see cref="ArgumentException"/> that names the argument,
/// what was expected and what came, so that no bad call reaches libtorch.
/// </summary>
public static class Check
{
    /// <summary>Shape as people write it: (2, 4, 8, 16).</summary>
    public static string Shape(Tensor t) => "(" + string.Join(", ", t.shape) + ")";

    /// <summary>The tensor is not null and not disposed.</summary>
    public static Tensor NotNull(Tensor? t, string name)
    {
        if (t is null) throw new ArgumentNullException(name, $"{name}: expected a tensor, got null");
        if (t.IsInvalid) throw new ArgumentException($"{name}: the tensor has been disposed", name);
        return t;
    }

    /// <summary>The tensor has exactly <paramref name="rank"/> dimensions; <paramref name="layout"/> says which, e.g. "(B, H, N, D)".</summary>
    public static void Rank(Tensor t, int rank, string name, string layout)
    {
        NotNull(t, name);
        if (t.dim() != rank) throw new ArgumentException($"{name}: expected a {rank}-D tensor {layout}, got shape {Shape(t)}", name);
    }

    /// <summary>The tensor has a floating-point dtype.</summary>
    public static void FloatingPoint(Tensor t, string name)
    {
        if (!torch.is_floating_point(t)) throw new ArgumentException($"{name}: expected a floating-point tensor, got {t.dtype}", name);
    }

    /// <summary>The tensor is boolean.</summary>
    public static void Bool(Tensor t, string name)
    {
        if (t.dtype != ScalarType.Bool) throw new ArgumentException($"{name}: expected a boolean tensor (true = may attend), got {t.dtype}", name);
    }

    /// <summary>Both tensors have the same dtype.</summary>
    public static void SameDType(Tensor a, string aName, Tensor b, string bName)
    {
        if (a.dtype != b.dtype) throw new ArgumentException($"{bName}: expected dtype {a.dtype} like {aName}, got {b.dtype}", bName);
    }

    /// <summary>Both tensors are on the same device.</summary>
    public static void SameDevice(Tensor a, string aName, Tensor b, string bName)
    {
        if (a.device_type != b.device_type || a.device_index != b.device_index)
            throw new ArgumentException($"{bName}: expected a tensor on {a.device} like {aName}, got one on {b.device}", bName);
    }

    /// <summary>Dimension <paramref name="dim"/> of <paramref name="t"/> equals <paramref name="expected"/>.</summary>
    public static void Dim(Tensor t, int dim, long expected, string name, string what)
    {
        if (t.shape[dim] != expected) throw new ArgumentException($"{name}: expected {what} = {expected} (dimension {dim}), got {t.shape[dim]} in shape {Shape(t)}", name);
    }

    /// <summary>Dimension <paramref name="dim"/> of a shape read once (TorchSharp's shape getter crosses into native code each time).</summary>
    public static void Dim(long[] shape, int dim, long expected, string name, string what)
    {
        if (shape[dim] != expected) throw new ArgumentException($"{name}: expected {what} = {expected} (dimension {dim}), got {shape[dim]} in shape ({string.Join(", ", shape)})", name);
    }

    /// <summary><paramref name="value"/> &gt; 0.</summary>
    public static void Positive(long value, string name)
    {
        if (value <= 0) throw new ArgumentException($"{name}: expected a positive number, got {value}", name);
    }

    /// <summary><paramref name="value"/> ≥ 0.</summary>
    public static void NonNegative(long value, string name)
    {
        if (value < 0) throw new ArgumentException($"{name}: expected zero or more, got {value}", name);
    }

    /// <summary><paramref name="value"/> is finite and &gt; 0.</summary>
    public static void PositiveFinite(double value, string name)
    {
        if (!double.IsFinite(value) || value <= 0) throw new ArgumentException($"{name}: expected a finite positive number, got {value}", name);
    }

    /// <summary>The shape of <paramref name="t"/> broadcasts to <paramref name="target"/>.</summary>
    public static void BroadcastsTo(Tensor t, long[] target, string name, string layout) => BroadcastsTo(t.shape, target, name, layout);

    /// <summary>A shape (read once) broadcasts to <paramref name="target"/>.</summary>
    public static void BroadcastsTo(long[] s, long[] target, string name, string layout)
    {
        bool ok = s.Length <= target.Length;
        for (int i = 1; ok && i <= s.Length; i++)
            ok = s[^i] == 1 || s[^i] == target[^i];
        if (!ok) throw new ArgumentException($"{name}: expected a shape that broadcasts to ({string.Join(", ", target)}) {layout}, got ({string.Join(", ", s)})", name);
    }
}
