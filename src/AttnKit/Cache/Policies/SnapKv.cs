using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// SnapKV: Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation", 2024 (arXiv 2404.14469),
/// section 4 (algorithm 1). The last tokens of the prompt (the observation window) already attend to what generation
/// will need, so their attention votes for the prefix tokens to keep; pooling keeps the neighbours of a chosen token,
/// so the kept tokens come in clusters that preserve local context.
/// 1. votes: the attention of the last <see cref="ObservationWindow"/> queries of the update, summed over them and
///    averaged over each KV head's query heads;
/// 2. pool the votes along the tokens (1-D average pooling, kernel <see cref="Kernel"/>, stride 1, same length);
/// 3. score = the pooled votes, accumulated over updates; the keep rule keeps the observation window itself (give the
///    budget a <see cref="CacheBudget.Window"/> of the same size) and the top-scored prefix tokens.
/// Per-layer budgets in the style of PyramidKV: <see cref="PyramidKv"/>.
/// </summary>
public sealed class SnapKv : TokenScorer
{
    /// <summary>SnapKV with an observation window of <paramref name="observationWindow"/> queries and a pooling kernel of <paramref name="kernel"/> (odd).</summary>
    public SnapKv(int observationWindow = 8, int kernel = 5)
    {
        Check.Positive(observationWindow, nameof(observationWindow));
        Check.Positive(kernel, nameof(kernel));
        if (kernel % 2 == 0) throw new ArgumentException($"{nameof(kernel)}: expected an odd kernel so that pooling keeps the length, got {kernel}", nameof(kernel));
        (ObservationWindow, Kernel) = (observationWindow, kernel);
    }

    /// <summary>Queries that vote.</summary>
    public int ObservationWindow { get; }
    /// <summary>Pooling kernel.</summary>
    public int Kernel { get; }

    /// <inheritdoc/>
    public override string Name => "SnapKV";

    /// <inheritdoc/>
    public override void Observe(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        long n = context.NewTokens, w = Math.Min(ObservationWindow, n);
        var votes = context.KvWeights.narrow(2, n - w, w).sum(2);                                  // 1. (B, Hkv, L)
        long b = votes.shape[0], h = votes.shape[1], l = votes.shape[2];
        var pooled = torch.nn.functional.avg_pool1d(votes.reshape(b * h, 1, l), Kernel, 1, Kernel / 2, count_include_pad: false)
            .reshape(b, h, l);                                                                     // 2. (B, Hkv, L)
        context.SetState("votes", context.State("votes") + pooled);                                // 3.
    }

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context) => context.State("votes").alias();        // 3.
}
