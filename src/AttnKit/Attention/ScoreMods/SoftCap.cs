using AttnKit.Core;
using static TorchSharp.torch;

namespace AttnKit.Attention.ScoreMods;

/// <summary>
/// Logit soft-capping: score ← cap · tanh(score / cap), which keeps every score in (−cap, cap) while leaving small
/// scores almost unchanged. Gemma Team, "Gemma 2: Improving Open Language Models at a Practical Size", 2024
/// (arXiv 2408.00118), which caps attention logits at 50.
/// </summary>
public static class SoftCap
{
    /// <summary>The soft-capping modifier with the given cap (&gt; 0).</summary>
    public static ScoreModifier Modifier(double cap)
    {
        Check.PositiveFinite(cap, nameof(cap));
        return new ScoreModifier($"softcap({cap})", (score, b, h, q, k) => (score / cap).tanh() * cap);
    }
}
