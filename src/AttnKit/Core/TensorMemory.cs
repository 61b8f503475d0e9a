using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Core;

/// <summary>What <see cref="TensorMemory.Measure"/> saw.</summary>
/// <param name="PeakBytes">The most bytes of tensor storage alive at any sample, beyond the excluded inputs.</param>
/// <param name="FinalBytes">Bytes alive when the operation returned (its results).</param>
/// <param name="Samples">How many samples were taken (one at the end, the others where the operation reported).</param>
public sealed record MemoryMeasurement(long PeakBytes, long FinalBytes, int Samples);

/// <summary>
/// Peak tensor memory by tracked allocation. TorchSharp 0.107 exposes no allocator statistics (CPU or CUDA), so this
/// accounts for the tensors themselves: while <see cref="Measure"/> runs an operation, every <see cref="Sample"/> walks
/// the thread's dispose scopes opened since the measurement began, takes each live tensor's storage (libtorch's own
/// data pointer and byte count, so views and expands of one storage count once, and the inputs' storages not at all),
/// and keeps the largest total. Operations call <see cref="Sample"/> where their live set is largest (inside a tile
/// loop, just before the tile's scope is disposed); it does nothing when no measurement runs on the thread.
/// What it cannot see: memory libtorch holds for autograd (saved activations), workspace inside a kernel, and an
/// allocator's cache. It is a count of tensor bytes, not of what a device allocator reserved.
/// </summary>
public static class TensorMemory
{
    [ThreadStatic] private static Tracker? _current;

    private sealed class Tracker(DisposeScope root, HashSet<IntPtr> excluded)
    {
        public DisposeScope Root { get; } = root;
        public HashSet<IntPtr> Excluded { get; } = excluded;
        public long Peak { get; set; }
        public int Samples { get; set; }
    }

    /// <summary>Whether a measurement runs on this thread.</summary>
    public static bool IsMeasuring => _current is not null;

    /// <summary>
    /// Runs <paramref name="operation"/> inside a fresh dispose scope and returns the peak bytes of tensor storage it
    /// held, not counting the storages of <paramref name="inputs"/>; everything it allocated is disposed afterwards.
    /// </summary>
    /// <exception cref="InvalidOperationException">A measurement already runs on this thread.</exception>
    public static MemoryMeasurement Measure(Action operation, params Tensor[] inputs)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(inputs);
        if (_current is not null) throw new InvalidOperationException("a memory measurement already runs on this thread; measurements do not nest");
        var excluded = new HashSet<IntPtr>();
        foreach (var t in inputs)
        {
            Check.NotNull(t, nameof(inputs));
            excluded.Add(StorageOf(t).Pointer);
        }
        using var scope = torch.NewDisposeScope();
        _current = new Tracker(scope, excluded);
        try
        {
            operation();
            long final = LiveBytes(_current);
            _current.Peak = Math.Max(_current.Peak, final);
            _current.Samples++;
            return new MemoryMeasurement(_current.Peak, final, _current.Samples);
        }
        finally
        {
            _current = null;
        }
    }

    /// <summary>Records the bytes alive now, if a measurement runs on this thread; otherwise does nothing.</summary>
    public static void Sample()
    {
        var tracker = _current;
        if (tracker is null) return;
        tracker.Peak = Math.Max(tracker.Peak, LiveBytes(tracker));
        tracker.Samples++;
    }

    /// <summary>The bytes of the storage behind <paramref name="t"/> (all of it, however small a view <paramref name="t"/> is).</summary>
    public static long StorageBytes(Tensor t)
    {
        Check.NotNull(t, nameof(t));
        return StorageOf(t).Bytes;
    }

    private static long LiveBytes(Tracker tracker)
    {
        var seen = new HashSet<IntPtr>(tracker.Excluded);
        long total = 0;
        for (var scope = CurrentScope(); scope is not null; scope = OuterOf(scope))
        {
            foreach (var d in scope.DisposablesView)
            {
                if (d is not Tensor t || t.IsInvalid) continue;
                var (ptr, bytes) = StorageOf(t);
                if (ptr != IntPtr.Zero && seen.Add(ptr)) total += bytes;
            }
            if (ReferenceEquals(scope, tracker.Root)) break;
        }
        return total;
    }

    // libtorch's storage of a tensor: LibTorchSharp exports these two for it (TorchSharp's own Storage wrapper copies
    // on a dtype mismatch and keeps an alias alive, so it is not used here).
    private delegate IntPtr StorageDataPtr(IntPtr tensor);
    private delegate UIntPtr StorageNBytes(IntPtr tensor);

    private static readonly Lazy<(StorageDataPtr DataPtr, StorageNBytes NBytes)> Native = new(() =>
    {
        var lib = NativeLibrary.Load("LibTorchSharp", typeof(torch).Assembly, null);   // honours TorchSharp's resolver
        return (Marshal.GetDelegateForFunctionPointer<StorageDataPtr>(NativeLibrary.GetExport(lib, "THSStorage_data_ptr")),
                Marshal.GetDelegateForFunctionPointer<StorageNBytes>(NativeLibrary.GetExport(lib, "THSStorage_nbytes")));
    });

    private static (IntPtr Pointer, long Bytes) StorageOf(Tensor t) =>
        (Native.Value.DataPtr(t.Handle), (long)Native.Value.NBytes(t.Handle).ToUInt64());

    // TorchSharp keeps the thread's scope stack internal; read it (TorchSharp 0.107's names).
    private static readonly PropertyInfo? ThreadSingleton = typeof(DisposeScopeManager).GetProperty("ThreadSingleton", BindingFlags.NonPublic | BindingFlags.Static);
    private static readonly PropertyInfo? Current = typeof(DisposeScopeManager).GetProperty("CurrentDisposeScope", BindingFlags.NonPublic | BindingFlags.Instance);
    private static readonly PropertyInfo? Outer = typeof(DisposeScope).GetProperty("OuterScope", BindingFlags.NonPublic | BindingFlags.Instance);

    private static DisposeScope? CurrentScope()
    {
        if (ThreadSingleton is null || Current is null || Outer is null)
            throw new InvalidOperationException("TensorMemory reads TorchSharp's dispose-scope stack, whose internal names changed in this TorchSharp version");
        return Current.GetValue(ThreadSingleton.GetValue(null)) as DisposeScope;
    }

    private static DisposeScope? OuterOf(DisposeScope scope) => Outer!.GetValue(scope) as DisposeScope;
}
