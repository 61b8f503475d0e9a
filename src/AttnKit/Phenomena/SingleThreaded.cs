using TorchSharp;

namespace AttnKit.Phenomena;

/// <summary>
/// Runs a small experiment with one intra-op CPU thread. The phenomenon experiments train models of a few thousand
/// parameters, whose operations are far too small to split: on a busy two-core machine, two libtorch threads spinning
/// against each other made them tens of times slower than one thread.
/// </summary>
internal static class SingleThreaded
{
    /// <summary>Calls <paramref name="run"/> with torch's intra-op thread count set to 1, then restores it.</summary>
    public static T Run<T>(Func<T> run)
    {
        int threads = torch.get_num_threads();
        torch.set_num_threads(1);
        try { return run(); }
        finally { torch.set_num_threads(threads); }
    }
}
