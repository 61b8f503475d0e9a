using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// SnapKV: Li et al., "SnapKV: LLM Knows What You are Looking for Before Generation", 2024 (arXiv 2404.14469),
/// section 4 (algorithm 1), with the defaults of the authors' code (FasterDecoding/SnapKV, snapkv_utils.py: a window
/// of 32, average pooling with kernel 5). The last tokens of the prompt (the observation window) already attend to
/// what generation will need, so their attention votes for the prefix tokens to keep; pooling keeps the neighbours of
/// a chosen token, so the kept tokens come in clusters that preserve local context. SnapKV compresses once, at
/// prefill; the tokens generated afterwards are all kept.
/// 1. votes: the attention of the last <see cref="ObservationWindow"/> prompt queries to the prefix before them
///    (summed over those queries, averaged over each KV head's query heads: the cache is per KV head, where the
///    authors' code keeps a budget per query head);
/// 2. pool the votes along the prefix (1-D average pooling, kernel <see cref="Kernel"/>, stride 1, zero padding that
///    counts, as in the authors' code);
/// 3. score = the pooled votes for the prefix and +∞ for the observation window, which SnapKV always keeps; the keep
///    rule keeps the window and the top-scored prefix tokens up to the budget. Give it <see cref="Budget"/> (compress
///    at prefill only); a budget that also compresses while decoding evicts the generated tokens first (they have no
///    votes), which is not SnapKV.
/// Per-layer budgets in the style of PyramidKV: <see cref="PyramidKv"/>.
/// </summary>
public sealed class SnapKv : TokenScorer
{
    /// <summary>SnapKV with an observation window of <paramref name="observationWindow"/> queries and a pooling kernel of <paramref name="kernel"/> (odd).</summary>
    public SnapKv(int observationWindow = 32, int kernel = 5)
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

    /// <summary>SnapKV's budget: <paramref name="tokens"/> per (row, KV head), the observation window included, compressed at prefill only.</summary>
    public static CacheBudget Budget(int tokens) => new() { Tokens = tokens, Decoding = false };

    /// <inheritdoc/>
    public override void Observe(PolicyContext context)
    {
        if (!context.IsPrefill) return;                                                            // once, at prefill
        using var scope = torch.NewDisposeScope();
        long n = context.NewTokens, w = Math.Min(ObservationWindow, n);
        var window = context.KvWeights.narrow(2, n - w, w);                                        // (B, Hkv, w, L)
        long b = window.shape[0], h = window.shape[1], l = window.shape[3], prefix = l - w;
        var votes = torch.full([b, h, w], double.PositiveInfinity, ScalarType.Float32, window.device); // 3. the window itself
        if (prefix > 0)
        {
            var sum = window.narrow(3, 0, prefix).sum(2);                                          // 1. (B, Hkv, L − w)
            var pooled = torch.nn.functional.avg_pool1d(sum.reshape(b * h, 1, prefix), Kernel, 1, Kernel / 2)
                .reshape(b, h, prefix);                                                            // 2.
            votes = torch.cat([pooled.to(ScalarType.Float32), votes], 2);
        }
        context.SetState("votes", votes);                                                          // 3.
    }

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context) => context.State("votes").alias();        // 3.
}
