using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// The prefill/decode split of Liu et al., "Can LLMs Maintain Fundamental Abilities under KV Cache Compression?", 2025
/// (arXiv 2502.01941), section 5 (ShotKV). Compressing prompt and generated tokens under one budget hurts arithmetic and
/// reasoning most; ShotKV compresses the prompt once, keeping whole few-shot examples (shots) so that each kept example
/// stays coherent, and manages the generated tokens under their own budget without touching the prompt again.
/// 1. prefill: a shot's score is the attention its tokens receive from the last prompt queries, averaged over its
///    tokens; every token takes its shot's score, so shots are kept whole (the last one that fits may be cut);
/// 2. the prompt is compressed once to <see cref="CacheBudget.PrefillTokens"/>;
/// 3. decoding: generated tokens are scored by the attention they have accumulated (as H2O), the kept prompt is
///    protected (<see cref="CacheBudget.ProtectPrompt"/>) and <see cref="CacheBudget.Tokens"/> is the generated tokens' budget.
/// </summary>
public sealed class ShotKv : TokenScorer
{
    private readonly long[] shotStarts;

    /// <summary>ShotKV with shots starting at <paramref name="shotStarts"/> (positions, ascending; empty: every token is its own shot).</summary>
    public ShotKv(IReadOnlyList<long>? shotStarts = null, int observationWindow = 8)
    {
        this.shotStarts = (shotStarts ?? []).ToArray();
        for (int i = 1; i < this.shotStarts.Length; i++)
            if (this.shotStarts[i] <= this.shotStarts[i - 1]) throw new ArgumentException($"{nameof(shotStarts)}: expected ascending positions", nameof(shotStarts));
        Check.Positive(observationWindow, nameof(observationWindow));
        ObservationWindow = observationWindow;
    }

    /// <summary>Prompt queries that score the shots.</summary>
    public int ObservationWindow { get; }

    /// <inheritdoc/>
    public override string Name => "ShotKV";

    /// <summary>The split budget: <paramref name="prefillTokens"/> for the prompt (step 2), <paramref name="decodeTokens"/> for generated tokens (step 3).</summary>
    public static CacheBudget Budget(int prefillTokens, int decodeTokens, int window = 1) =>
        new() { Tokens = decodeTokens, PrefillTokens = prefillTokens, ProtectPrompt = true, Window = Math.Min(window, Math.Min(prefillTokens, decodeTokens)) };

    /// <inheritdoc/>
    public override void Observe(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        if (context.IsPrefill)
        {
            long n = context.NewTokens, w = Math.Min(ObservationWindow, n);
            var received = context.KvWeights.narrow(2, n - w, w).sum(2);                                 // (B, Hkv, L)
            if (shotStarts.Length > 0)
            {
                var starts = torch.tensor(shotStarts, ScalarType.Int64, context.Keys.device);
                var shot = torch.bucketize(context.Positions, starts, right: true);                       // shot id per token (B, Hkv, L)
                long shots = shotStarts.Length + 1;
                var sum = torch.zeros([received.shape[0], received.shape[1], shots], device: received.device).scatter_add(2, shot, received);
                var count = torch.zeros_like(sum).scatter_add(2, shot, torch.ones_like(received));
                received = (sum / count.clamp_min(1)).gather(2, shot);                                    // 1. each token: its shot's mean
            }
            context.SetState("score", received);
        }
        else
        {
            context.SetState("score", context.State("score") + context.KvWeights.sum(2));                 // 3.
        }
    }

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context) => context.State("score").alias();
}
