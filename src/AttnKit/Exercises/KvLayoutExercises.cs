using AttnKit.Attention;
using AttnKit.Attention.KvLayouts;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>The exercises of notebook 03, "What the cache holds", each checked against the kit's layouts.</summary>
public static class KvLayoutExercises
{
    /// <summary>Every exercise of the notebook.</summary>
    public static IEnumerable<ExerciseDefinition> All() => [GroupHeads(), MeanPoolHeads(), TensorProduct()];

    /// <summary>
    /// <c>kv-layouts.gqa-groups</c>: (k (B, Hkv, N, D), groups) → (B, Hkv·groups, N, D), key/value head j repeated for
    /// the query heads j·groups … (j + 1)·groups − 1 that read it. Ainslie et al. 2023 (arXiv 2305.13245), section 2.2.
    /// Reference: <see cref="ScaledDotProductAttention.RepeatHeads"/>.
    /// </summary>
    public static ExerciseDefinition GroupHeads() => new()
    {
        Id = "kv-layouts.gqa-groups",
        Title = "Grouped-query attention: give every query head its key/value head",
        Points = 2,
        Parameters = [new("k", typeof(Tensor)), new("groups", typeof(long))],
        Reference = args => ScaledDotProductAttention.RepeatHeads((Tensor)args[0], (long)args[1]),
        PublicCases =
        [
            new ExerciseCase(Randn(51, 1, 2, 3, 4), 2L),
            new ExerciseCase("multi-query: one key/value head for all four query heads", Randn(52, 1, 1, 2, 4), 4L),
        ],
        EdgeCases = [new ExerciseCase(Randn(53, 2, 3, 1, 2), 1L), new ExerciseCase(Randn(54, 1, 4, 5, 8), 3L)],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ =>
            new ExerciseCase(Randn(random.Next(), random.Next(1, 3), random.Next(1, 5), random.Next(1, 7), random.Next(1, 9)), (long)random.Next(1, 5))).ToList(),
        AbsoluteTolerance = 0,
        RelativeTolerance = 0,
    };

    /// <summary>
    /// <c>kv-layouts.mean-pool</c>: (W (H·D, d), heads, groups) → (groups·D, d), the mean of the rows of the heads of
    /// each group (heads g·H/G … (g + 1)·H/G − 1 form group g), as the GQA paper converts a multi-head checkpoint.
    /// Reference: <see cref="GqaConversion.MeanPoolHeads"/>.
    /// </summary>
    public static ExerciseDefinition MeanPoolHeads() => new()
    {
        Id = "kv-layouts.mean-pool",
        Title = "Convert multi-head key projections to grouped-query ones by mean-pooling",
        Points = 3,
        Parameters = [new("weight", typeof(Tensor)), new("heads", typeof(long)), new("groups", typeof(long))],
        Reference = args => GqaConversion.MeanPoolHeads((Tensor)args[0], (int)(long)args[1], (int)(long)args[2]),
        PublicCases =
        [
            new ExerciseCase(new RandomTensor([4 * 2, 3], 61), 4L, 2L),
            new ExerciseCase("one group: multi-query attention", new RandomTensor([4 * 3, 5], 62), 4L, 1L),
        ],
        EdgeCases = [new ExerciseCase(new RandomTensor([6, 4], 63), 6L, 6L), new ExerciseCase(new RandomTensor([8 * 4, 16], 64), 8L, 2L)],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ =>
        {
            int groups = random.Next(1, 4), per = random.Next(1, 4), dim = random.Next(1, 9);
            return new ExerciseCase(new RandomTensor([groups * per * dim, random.Next(1, 17)], random.Next()), (long)(groups * per), (long)groups);
        }).ToList(),
    };

    /// <summary>
    /// <c>kv-layouts.tensor-product</c>: (a (B, N, R·H), b (B, N, R·D), rank, heads) → (B, H, N, D) = (1/R)·Σ_r a_r ⊗ b_r
    /// per token. Zhang et al. 2025 (arXiv 2501.06425), eq. 3.1. Reference: <see cref="TensorProductAttention.Contract"/>.
    /// </summary>
    public static ExerciseDefinition TensorProduct() => new()
    {
        Id = "kv-layouts.tensor-product",
        Title = "Tensor product attention: build each token's key heads from its factors",
        Points = 3,
        Parameters = [new("a", typeof(Tensor)), new("b", typeof(Tensor)), new("rank", typeof(long)), new("heads", typeof(long))],
        Reference = args => TensorProductAttention.Contract((Tensor)args[0], (Tensor)args[1], (int)(long)args[2], (int)(long)args[3]),
        PublicCases =
        [
            new ExerciseCase(new RandomTensor([1, 2, 2 * 3], 71), new RandomTensor([1, 2, 2 * 4], 72), 2L, 3L),
            new ExerciseCase("rank one: every head is a multiple of one vector", new RandomTensor([1, 3, 4], 73), new RandomTensor([1, 3, 8], 74), 1L, 4L),
        ],
        EdgeCases = [new ExerciseCase(new RandomTensor([2, 1, 6 * 2], 75), new RandomTensor([2, 1, 6 * 16], 76), 6L, 2L)],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ =>
        {
            int b = random.Next(1, 3), n = random.Next(1, 6), r = random.Next(1, 5), h = random.Next(1, 5), d = random.Next(1, 9);
            return new ExerciseCase(new RandomTensor([b, n, r * h], random.Next()), new RandomTensor([b, n, r * d], random.Next()), (long)r, (long)h);
        }).ToList(),
    };

    private static RandomTensor Randn(long seed, long b, long h, long n, long d) => new([b, h, n, d], seed);
}
