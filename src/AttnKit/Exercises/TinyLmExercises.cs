using AttnKit.Models;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>The exercises of the tiny-model notebook (02-tiny-lm), each checked against the kit's implementation.</summary>
public static class TinyLmExercises
{
    /// <summary>Every exercise of this notebook.</summary>
    public static IEnumerable<ExerciseDefinition> All() => [SinkShare()];

    /// <summary>
    /// <c>probes.sink-share</c>: one layer's attention weights (B, H, N, N) → (H): the mean weight that queries 1 … N−1
    /// put on key 0, over the batch and those queries (query 0 can only attend to itself). Xiao et al., "Efficient
    /// Streaming Language Models with Attention Sinks", 2023 (arXiv 2309.17453). Reference: <see cref="HeadProbes.SinkShareOfLayer"/>.
    /// </summary>
    public static ExerciseDefinition SinkShare() => new()
    {
        Id = "probes.sink-share",
        Title = "How much attention goes to the first token?",
        Points = 2,
        Parameters = [new("weights", typeof(Tensor))],
        Reference = args => HeadProbes.SinkShareOfLayer((Tensor)args[0]),
        PublicCases =
        [
            new ExerciseCase(Weights(51, 1, 2, 4)),
            new ExerciseCase("a batch of three, four heads", Weights(52, 3, 4, 6)),
        ],
        EdgeCases = [new ExerciseCase(Weights(61, 1, 1, 2)), new ExerciseCase(Weights(62, 2, 3, 33))],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ => new ExerciseCase(Weights(random.Next(), random.Next(1, 4), random.Next(1, 5), random.Next(2, 12)))).ToList(),
    };

    // The function only averages a column, so any values test it; standard normal ones make a wrong axis show.
    private static RandomTensor Weights(long seed, long b, long h, long n) => new([b, h, n, n], seed);
}
