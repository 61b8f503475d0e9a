using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests;

/// <summary>Test helpers: seeded tensors on the kit's device, error measures, leak checks.</summary>
internal static class T
{
    public static Device Dev => Kit.Device;

    public static Tensor Randn(params long[] shape) => torch.randn(shape, ScalarType.Float32, Dev);

    public static Tensor Leaf(Tensor t) => t.detach().requires_grad_(true);

    /// <summary>‖a − b‖ / ‖b‖ in float64 (RMS ratio); 0 when both are zero.</summary>
    public static double RelRms(Tensor actual, Tensor expected)
    {
        using var scope = torch.NewDisposeScope();
        var a = actual.to(ScalarType.Float64).cpu();
        var e = expected.to(ScalarType.Float64).cpu();
        Assert.Equal(e.shape, a.shape);
        double num = (a - e).pow(2).sum().item<double>();
        double den = e.pow(2).sum().item<double>();
        return den == 0 ? Math.Sqrt(num) : Math.Sqrt(num / den);
    }

    public static void Close(Tensor expected, Tensor actual, double tol, string what = "")
    {
        Assert.False(actual.isnan().any().item<bool>(), $"{what}: NaN present");
        double err = RelRms(actual, expected);
        Assert.True(err <= tol, $"{what}: relative RMS error {err:E3} > {tol:E1}");
    }

    public static float[] Floats(Tensor t) => t.to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
    public static bool[] Bools(Tensor t) => t.cpu().contiguous().data<bool>().ToArray();

    /// <summary>A 2-D bool matrix from rows of '1' (allowed) and '.' (forbidden).</summary>
    public static bool[] Pattern(params string[] rows) => rows.SelectMany(r => r.Select(c => c == '1')).ToArray();

    public static string Picture(Tensor m2d)
    {
        var b = Bools(m2d);
        long cols = m2d.shape[1];
        return string.Join("\n", Enumerable.Range(0, (int)m2d.shape[0]).Select(r => new string(b.Skip(r * (int)cols).Take((int)cols).Select(x => x ? '1' : '.').ToArray())));
    }

    /// <summary>Runs f, asserting the thread's live tensor count grows by exactly what f returns (then disposes it).</summary>
    public static void NoLeak(Func<IEnumerable<Tensor?>> f)
    {
        long before = LiveTensors.Count;
        var kept = f().Where(t => t is not null).Cast<Tensor>().Distinct().ToList();
        long after = LiveTensors.Count;
        Assert.Equal(before + kept.Count, after);
        foreach (var t in kept) t.Dispose();
        Assert.Equal(before, LiveTensors.Count);
    }
}

/// <summary>Compares floats within an absolute tolerance.</summary>
internal sealed class FloatTolerance(float tol) : IEqualityComparer<float>
{
    public bool Equals(float x, float y) => Math.Abs(x - y) <= tol || (float.IsNegativeInfinity(x) && float.IsNegativeInfinity(y));
    public int GetHashCode(float obj) => 0;
}
