using TorchSharp;

namespace AttnKit.Core;

/// <summary>
/// Leak checks. TorchSharp frees native (and GPU) memory only when a tensor is disposed; it counts the
/// tensors alive per thread. A public operation of the kit leaves that count where it found it, plus what it returns.
/// </summary>
public static class LiveTensors
{
    /// <summary>Tensors created and not yet disposed on this thread.</summary>
    public static long Count => DisposeScopeManager.Statistics.ThreadTotalLiveCount;

    /// <summary>Runs <paramref name="action"/> and returns how many tensors it left alive on this thread.</summary>
    public static long LeftAliveBy(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        long before = Count;
        action();
        return Count - before;
    }
}
