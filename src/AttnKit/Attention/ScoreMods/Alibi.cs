using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.ScoreMods;

/// <summary>
/// ALiBi: attention with linear biases. Press, Smith and Lewis, "Train Short, Test Long: Attention with Linear
/// Biases Enables Input Length Extrapolation", 2021 (arXiv 2108.12409).
///
/// No position embeddings; instead each head h penalises a key by its distance from the query:
/// 1. slopes: for H heads (a power of two), m_h = 2^(-8h/H), h = 1..H — a geometric sequence starting at 2^(-8/H);
///    for other H, the slopes of the nearest smaller power of two, then every other slope of the next one (paper, section 3);
/// 2. score(i, j) ← score(i, j) − m_h · (i − j), for keys j ≤ i (the causal setting of the paper).
/// For keys after the query (non-causal use) the kit uses the distance |i − j|, a common symmetric extension.
/// </summary>
public static class Alibi
{
    /// <summary>Step 1: the paper's slopes for <paramref name="heads"/> heads.</summary>
    public static double[] Slopes(int heads)
    {
        Check.Positive(heads, nameof(heads));
        static IEnumerable<double> PowerOfTwo(int n) => Enumerable.Range(1, n).Select(i => Math.Pow(2, -8.0 * i / n));
        int closest = 1 << (int)Math.Floor(Math.Log2(heads));
        var slopes = PowerOfTwo(closest).ToList();
        if (closest < heads) slopes.AddRange(PowerOfTwo(2 * closest).Where((_, i) => i % 2 == 0).Take(heads - closest));
        return slopes.ToArray();
    }

    /// <summary>The ALiBi score modifier with the paper's slopes for <paramref name="heads"/> heads.</summary>
    public static ScoreModifier Modifier(int heads)
    {
        var slopes = Slopes(heads);
        return Build($"alibi(H={heads})", heads, score => torch.tensor(slopes, score.dtype, score.device));
    }

    /// <summary>
    /// Step 2: the ALiBi score modifier with given slopes (H), one per query head, e.g. learned ones. The modifier reads
    /// the tensor at each call: keep it alive while the modifier is in use.
    /// </summary>
    public static ScoreModifier Modifier(Tensor slopes)
    {
        Check.Rank(slopes, 1, nameof(slopes), "(H)");
        Check.FloatingPoint(slopes, nameof(slopes));
        return Build($"alibi(H={slopes.shape[0]}, given slopes)", slopes.shape[0], score => slopes.to(score.dtype, score.device));
    }

    private static ScoreModifier Build(string name, long heads, Func<Tensor, Tensor> slopesFor) => new(name, (score, b, h, q, k) =>
    {
        if (score.shape[1] != heads)
            throw new ArgumentException($"alibi: has {heads} slopes, but the scores have {score.shape[1]} heads");
        var m = slopesFor(score).view(1, -1, 1, 1);          // (1, H, 1, 1)
        var distance = (q - k).abs().to(score.dtype);       // (1, 1, Nq, Nk)
        return score - m * distance;
    });
}
