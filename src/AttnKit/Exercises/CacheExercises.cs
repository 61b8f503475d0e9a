using AttnKit.Cache;
using AttnKit.Cache.Policies;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>The exercises of the KV-cache notebooks, each checked against the kit's own implementation.</summary>
public static class CacheExercises
{
    /// <summary>Every cache exercise.</summary>
    public static IEnumerable<ExerciseDefinition> All() => [StreamingKeep(), L2Score()];

    /// <summary>
    /// <c>cache.streaming-keep</c>: (length L, sinks S, window W) → the (L) bool keep set of StreamingLLM: the first S
    /// positions and the last W. Xiao et al., 2023 (arXiv 2309.17453), section 3.2. Reference: <see cref="KeepSet.Mask"/>
    /// with <see cref="StreamingLlm"/>'s scores and the budget S + W.
    /// </summary>
    public static ExerciseDefinition StreamingKeep() => new()
    {
        Id = "cache.streaming-keep",
        Title = "StreamingLLM's keep set: sinks and a recent window",
        Points = 2,
        Parameters = [new("length", typeof(long)), new("sinks", typeof(long)), new("window", typeof(long))],
        Reference = args =>
        {
            var (l, s, w) = ((long)args[0], (long)args[1], (long)args[2]);
            using var scope = torch.NewDisposeScope();
            var pos = torch.arange(l).view(1, 1, l);
            return KeepSet.Mask(pos.to(ScalarType.Float32), pos, null, l, [(int)Math.Min(l, s + w)], (int)s, (int)w).view(l).MoveToOuterDisposeScope();
        },
        PublicCases =
        [
            new ExerciseCase(10L, 2L, 3L),
            new ExerciseCase("shorter than the budget: keep everything", 4L, 2L, 3L),
            new ExerciseCase("no sinks: a sliding window", 8L, 0L, 4L),
        ],
        EdgeCases = [new ExerciseCase(1L, 1L, 1L), new ExerciseCase(6L, 6L, 0L), new ExerciseCase(30L, 4L, 1L), new ExerciseCase(5L, 0L, 5L)],
        RandomCases = random => Enumerable.Range(0, 6).Select(_ => new ExerciseCase((long)random.Next(1, 40), (long)random.Next(0, 6), (long)random.Next(1, 12))).ToList(),
    };

    /// <summary>
    /// <c>cache.l2-score</c>: keys (B, H, L, D) → the L2-norm policy's scores (B, H, L) = −‖k‖₂ (low-norm keys are kept).
    /// Devoto et al., 2024 (arXiv 2406.11430). Reference: <see cref="KeyNorm.Scores"/>.
    /// </summary>
    public static ExerciseDefinition L2Score() => new()
    {
        Id = "cache.l2-score",
        Title = "The L2-norm score of keys",
        Points = 2,
        Parameters = [new("keys", typeof(Tensor))],
        Reference = args => KeyNorm.Scores((Tensor)args[0]),
        PublicCases = [new ExerciseCase(Randn(51, 1, 1, 4, 3)), new ExerciseCase("two rows, two heads", Randn(52, 2, 2, 5, 8))],
        EdgeCases = [new ExerciseCase(Randn(61, 1, 1, 1, 1)), new ExerciseCase(Randn(62, 1, 3, 7, 64, 10))],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ => new ExerciseCase(Randn(random.Next(), random.Next(1, 3), random.Next(1, 4), random.Next(1, 20), random.Next(1, 33)))).ToList(),
        AbsoluteTolerance = 1e-5,
        RelativeTolerance = 1e-4,
    };

    private static RandomTensor Randn(long seed, long b, long h, long n, long d, double scale = 1) => new([b, h, n, d], seed, scale);
}
