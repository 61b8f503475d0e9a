using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// StreamingLLM's keep set as a score: Xiao et al., "Efficient Streaming Language Models with Attention Sinks", 2023
/// (arXiv 2309.17453), section 3.2. The first tokens soak up attention whatever they say (attention sinks), so a cache
/// that keeps them plus a rolling window of recent tokens stays stable far beyond the training length.
/// 1. score every token by its position (recency);
/// 2. the keep rule adds the sinks (<see cref="CacheBudget.Sinks"/>): with budget S + W it keeps exactly the S sinks
///    and the last W tokens.
/// This policy keeps original positions; <see cref="SlidingWindowCache"/> with <c>reposition: true</c> is the
/// paper's implementation, which rotates keys at their rank in the cache, in a ring buffer.
/// </summary>
public sealed class StreamingLlm : TokenScorer
{
    /// <inheritdoc/>
    public override string Name => "StreamingLLM";

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context) => context.Positions.to(ScalarType.Float32);   // 1.

    /// <summary>The budget of S sinks and a window of W recent tokens (step 2).</summary>
    public static CacheBudget Budget(int sinks, int window) => new() { Tokens = sinks + window, Sinks = sinks, Window = window };
}
