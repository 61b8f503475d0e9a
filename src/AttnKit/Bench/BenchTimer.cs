using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>How a case was timed.</summary>
/// <param name="MedianMs">Median milliseconds per step.</param>
/// <param name="MinMs">Fastest repeat, per step.</param>
/// <param name="Repeats">Timed repeats.</param>
/// <param name="StepsPerRepeat">Steps run back to back inside one timed repeat.</param>
public sealed record BenchTiming(double MedianMs, double MinMs, int Repeats, int StepsPerRepeat);

/// <summary>
/// The measurement protocol (the PyTorch script bench/pytorch/attention.py uses the same):
/// 1. warm up (compiles kernels, fills the allocator's cache);
/// 2. calibrate: run k steps back to back so that one repeat lasts at least <c>minRepeatMs</c> (tiny operations
///    are timed in batches, so the clock's resolution and a single launch do not dominate);
/// 3. repeat: synchronize the device, read the clock, run k steps, synchronize, read the clock;
/// 4. report the median (and the minimum) per step.
/// </summary>
public static class BenchTimer
{
    /// <summary>Times <paramref name="run"/> on <paramref name="device"/>.</summary>
    public static BenchTiming Time(IBenchRun run, Device device, int warmup = 3, int repeats = 10, double minRepeatMs = 20)
    {
        ArgumentNullException.ThrowIfNull(run);
        if (repeats < 1) throw new ArgumentException($"{nameof(repeats)}: expected at least 1, got {repeats}", nameof(repeats));
        void Sync() { if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device); }
        for (int i = 0; i < Math.Max(Math.Max(1, warmup), run.WarmupSteps); i++) run.Step();
        Sync();
        var watch = Stopwatch.StartNew();
        run.Step();
        Sync();
        double one = Math.Max(watch.Elapsed.TotalMilliseconds, 1e-3);
        int steps = (int)Math.Clamp(Math.Ceiling(minRepeatMs / one), 1, 10_000);
        var times = new double[repeats];
        for (int r = 0; r < repeats; r++)
        {
            Sync();
            watch.Restart();
            for (int s = 0; s < steps; s++) run.Step();
            Sync();
            times[r] = watch.Elapsed.TotalMilliseconds / steps;
        }
        Array.Sort(times);
        double median = repeats % 2 == 1 ? times[repeats / 2] : (times[repeats / 2 - 1] + times[repeats / 2]) / 2;
        return new BenchTiming(median, times[0], repeats, steps);
    }

    /// <summary>
    /// The slope of log(time) against log(N) by least squares: about 2 for quadratic attention, 1 for linear.
    /// NaN with fewer than two points.
    /// </summary>
    public static double LogLogSlope(IReadOnlyList<(double N, double Ms)> points)
    {
        var p = points.Where(x => x.N > 0 && x.Ms > 0).Select(x => (X: Math.Log(x.N), Y: Math.Log(x.Ms))).ToList();
        if (p.Count < 2) return double.NaN;
        double mx = p.Average(x => x.X), my = p.Average(x => x.Y);
        double sxx = p.Sum(x => (x.X - mx) * (x.X - mx)), sxy = p.Sum(x => (x.X - mx) * (x.Y - my));
        return sxx == 0 ? double.NaN : sxy / sxx;
    }
}
