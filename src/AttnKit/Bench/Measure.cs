using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>
/// One registered bench case timed from a notebook: the same case and protocol as the runner's <c>bench</c> (warm-up,
/// repeats of at least a few milliseconds, synchronized on CUDA, the median), so a notebook's numbers are the bench's.
/// </summary>
public static class Measure
{
    /// <summary>Median milliseconds per step of bench case <paramref name="caseName"/> at <paramref name="shape"/> on <paramref name="device"/> (the kit's by default).</summary>
    /// <exception cref="ArgumentException">No such case, or the case does not run at that shape.</exception>
    public static double Ms(string caseName, BenchShape shape, Device? device = null, int repeats = 5)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Check.Positive(repeats, nameof(repeats));
        var dev = device ?? Kit.Device;
        var all = BenchRegistry.All();
        var c = all.FirstOrDefault(x => x.Name == caseName)
            ?? throw new ArgumentException($"{nameof(caseName)}: no bench case '{caseName}'; cases: {string.Join(", ", all.Select(x => x.Name))}", nameof(caseName));
        if (!c.Supports(shape, dev, out var why)) throw new ArgumentException($"{nameof(shape)}: {caseName} does not run at N = {shape.Tokens}: {why}", nameof(shape));
        using var run = c.Prepare(shape, dev);
        return BenchTimer.Time(run, dev, warmup: 2, repeats: repeats, minRepeatMs: dev.type == DeviceType.CUDA ? 10 : 2).MedianMs;
    }
}
