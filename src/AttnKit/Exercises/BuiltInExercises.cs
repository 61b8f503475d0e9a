using AttnKit.Attention;
using AttnKit.Attention.Masks;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>
/// The exercises the library registers itself, each checked against the kit's own implementation. A notebook that
/// adds an exercise adds it here (a grader verifies only exercises the library registers).
/// </summary>
public static class BuiltInExercises
{
    /// <summary>Every built-in exercise.</summary>
    public static IEnumerable<ExerciseDefinition> All() =>
    [
        CausalMask(), SoftmaxWeights(), Attention(),
        .. FoundationsExercises.All(),
        .. BlockwiseExercises.All(),
        .. CacheExercises.All(),
        .. TinyLmExercises.All(),
        .. KvLayoutExercises.All(),
    ];

    /// <summary>
    /// <c>masks.causal</c>: (queries, keys) → the boolean (queries, keys) causal mask, true where the query may attend.
    /// The queries are the last tokens of the sequence (query i is at position keys − queries + i), as in
    /// <see cref="Masks.Causal"/>, the reference.
    /// </summary>
    public static ExerciseDefinition CausalMask() => new()
    {
        Id = "masks.causal",
        Title = "Build the causal mask",
        Points = 2,
        Parameters = [new("queries", typeof(long)), new("keys", typeof(long))],
        Reference = args => Masks.Causal.ToMatrix((long)args[0], (long)args[1]),
        PublicCases =
        [
            new ExerciseCase(4L, 4L),
            new ExerciseCase("more keys than queries: the queries are the last tokens", 3L, 5L),
            new ExerciseCase("one new token after a cache of 5", 1L, 6L),
        ],
        EdgeCases = [new ExerciseCase(1L, 1L), new ExerciseCase(16L, 16L), new ExerciseCase(7L, 8L), new ExerciseCase(2L, 31L)],
        RandomCases = random => Enumerable.Range(0, 6).Select(_ =>
        {
            long keys = random.Next(1, 25);
            return new ExerciseCase((long)random.Next(1, (int)keys + 1), keys);
        }).ToList(),
    };

    /// <summary>
    /// <c>attention.softmax-weights</c>: (q, k) → softmax(q·kᵀ/√D) over the keys, (B, H, Nq, Nk). Vaswani et al.,
    /// "Attention Is All You Need", 2017 (arXiv 1706.03762), eq. (1). Reference: the weights of
    /// <see cref="ScaledDotProductAttention.Reference"/>.
    /// </summary>
    public static ExerciseDefinition SoftmaxWeights() => new()
    {
        Id = "attention.softmax-weights",
        Title = "Attention weights: softmax of the scaled scores",
        Points = 2,
        Parameters = [new("q", typeof(Tensor)), new("k", typeof(Tensor))],
        Reference = args =>
        {
            var (q, k) = ((Tensor)args[0], (Tensor)args[1]);
            return ScaledDotProductAttention.Reference(q, k, k, Unmasked with { ReturnWeights = true }).Weights!;
        },
        PublicCases =
        [
            new ExerciseCase(Randn(11, 1, 1, 3, 4), Randn(12, 1, 1, 3, 4)),
            new ExerciseCase("more keys than queries, two heads", Randn(13, 2, 2, 4, 8), Randn(14, 2, 2, 6, 8)),
        ],
        EdgeCases =
        [
            new ExerciseCase(Randn(21, 1, 1, 4, 8), Randn(22, 1, 1, 1, 8)),
            new ExerciseCase(Randn(23, 1, 2, 5, 16, 30), Randn(24, 1, 2, 5, 16, 30)),
            new ExerciseCase(Randn(25, 2, 1, 3, 1), Randn(26, 2, 1, 7, 1)),
        ],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ =>
        {
            var (b, h, nq, nk, d) = Shape(random);
            return new ExerciseCase(Randn(random.Next(), b, h, nq, d), Randn(random.Next(), b, h, nk, d));
        }).ToList(),
        AbsoluteTolerance = 1e-5,
        RelativeTolerance = 1e-3,
    };

    /// <summary>
    /// <c>attention.sdpa</c>: (q, k, v) → softmax(q·kᵀ/√D)·v, (B, H, Nq, Dv). Vaswani et al., 2017 (arXiv 1706.03762),
    /// eq. (1). Reference: <see cref="ScaledDotProductAttention.Reference"/>.
    /// </summary>
    public static ExerciseDefinition Attention() => new()
    {
        Id = "attention.sdpa",
        Title = "Scaled dot-product attention",
        Points = 3,
        Parameters = [new("q", typeof(Tensor)), new("k", typeof(Tensor)), new("v", typeof(Tensor))],
        Reference = args => ScaledDotProductAttention.Reference((Tensor)args[0], (Tensor)args[1], (Tensor)args[2], Unmasked).Output,
        PublicCases =
        [
            new ExerciseCase(Randn(31, 1, 1, 3, 4), Randn(32, 1, 1, 3, 4), Randn(33, 1, 1, 3, 4)),
            new ExerciseCase("more keys than queries, values of another width", Randn(34, 2, 2, 4, 8), Randn(35, 2, 2, 6, 8), Randn(36, 2, 2, 6, 5)),
        ],
        EdgeCases =
        [
            new ExerciseCase(Randn(41, 1, 1, 4, 8), Randn(42, 1, 1, 1, 8), Randn(43, 1, 1, 1, 8)),
            new ExerciseCase(Randn(44, 1, 2, 5, 16, 30), Randn(45, 1, 2, 5, 16, 30), Randn(46, 1, 2, 5, 16)),
            new ExerciseCase(Randn(47, 3, 1, 1, 6), Randn(48, 3, 1, 9, 6), Randn(49, 3, 1, 9, 2)),
        ],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ =>
        {
            var (b, h, nq, nk, d) = Shape(random);
            long dv = random.Next(1, 17);
            return new ExerciseCase(Randn(random.Next(), b, h, nq, d), Randn(random.Next(), b, h, nk, d), Randn(random.Next(), b, h, nk, dv));
        }).ToList(),
        AbsoluteTolerance = 1e-4,
        RelativeTolerance = 1e-3,
    };

    // no mask, so the query offset does not matter; given, so that more queries than keys is allowed
    private static readonly AttentionOptions Unmasked = new() { QueryOffset = 0 };

    private static RandomTensor Randn(long seed, long b, long h, long n, long d, double scale = 1) => new([b, h, n, d], seed, scale);

    private static (long B, long H, long Nq, long Nk, long D) Shape(Random random) =>
        (random.Next(1, 3), random.Next(1, 4), random.Next(1, 9), random.Next(1, 9), random.Next(1, 17));
}
