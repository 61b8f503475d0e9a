using AttnKit.Attention.Foundations;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>The exercises of notebooks/01-attention-from-first-principles.ipynb, each checked against the kit's own implementation.</summary>
public static class FoundationsExercises
{
    /// <summary>Every exercise of the foundations notebook.</summary>
    public static IEnumerable<ExerciseDefinition> All() => [AdditiveScores(), LocalPWeights()];

    /// <summary>
    /// <c>foundations.additive-scores</c>: (q, k, wq, wk, v) → e_ij = vᵀ tanh(q_i W_q + k_j W_k), (B, H, Nq, Nk). Bahdanau et
    /// al., 2014 (arXiv 1409.0473), eq. (6). Reference: <see cref="BahdanauAttention.Scores"/>.
    /// </summary>
    public static ExerciseDefinition AdditiveScores() => new()
    {
        Id = "foundations.additive-scores",
        Title = "Additive (Bahdanau) scores",
        Points = 2,
        Parameters = [new("q", typeof(Tensor)), new("k", typeof(Tensor)), new("wq", typeof(Tensor)), new("wk", typeof(Tensor)), new("v", typeof(Tensor))],
        Reference = args => BahdanauAttention.Scores((Tensor)args[0], (Tensor)args[1], (Tensor)args[2], (Tensor)args[3], (Tensor)args[4]),
        PublicCases =
        [
            new ExerciseCase(R(101, 1, 1, 2, 3), R(102, 1, 1, 4, 3), R(103, 3, 5), R(104, 3, 5), R(105, 5)),
            new ExerciseCase("queries and keys of different widths, two heads", R(106, 2, 2, 3, 4), R(107, 2, 2, 5, 6), R(108, 4, 3), R(109, 6, 3), R(110, 3)),
        ],
        EdgeCases =
        [
            new ExerciseCase(R(111, 1, 1, 1, 1), R(112, 1, 1, 1, 1), R(113, 1, 1), R(114, 1, 1), R(115, 1)),
            new ExerciseCase("large inputs saturate tanh", R(116, 1, 1, 3, 4, 20), R(117, 1, 1, 6, 4, 20), R(118, 4, 8), R(119, 4, 8), R(120, 8)),
        ],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ =>
        {
            long b = random.Next(1, 3), h = random.Next(1, 3), nq = random.Next(1, 7), nk = random.Next(1, 7), dq = random.Next(1, 9), dk = random.Next(1, 9), a = random.Next(1, 9);
            return new ExerciseCase(R(random.Next(), b, h, nq, dq), R(random.Next(), b, h, nk, dk), R(random.Next(), dq, a), R(random.Next(), dk, a), R(random.Next(), a));
        }).ToList(),
        AbsoluteTolerance = 1e-5,
        RelativeTolerance = 1e-4,
    };

    /// <summary>
    /// <c>foundations.local-p-weights</c>: (scores (B, H, Nq, S), z (B, H, Nq), halfWidth D) → Luong's local-p weights
    /// (B, H, Nq, S): p = (S − 1)·sigmoid(z), softmax of the scores over the window |s − p| ≤ D (zero outside), times
    /// exp(−(s − p)²/(2σ²)) with σ = D/2. Luong et al., 2015 (arXiv 1508.04025), eqs. (9)–(10). Reference:
    /// <see cref="LuongLocalAttention.Weights"/>.
    /// </summary>
    public static ExerciseDefinition LocalPWeights() => new()
    {
        Id = "foundations.local-p-weights",
        Title = "Luong's local-p weights",
        Points = 3,
        Parameters = [new("scores", typeof(Tensor)), new("z", typeof(Tensor)), new("halfWidth", typeof(long))],
        Reference = args =>
        {
            var (scores, z, d) = ((Tensor)args[0], (Tensor)args[1], (long)args[2]);
            using var scope = torch.NewDisposeScope();
            var p = z.sigmoid() * (scores.shape[3] - 1);
            return LuongLocalAttention.Weights(scores, p, d, gaussian: true).MoveToOuterDisposeScope();
        },
        PublicCases =
        [
            new ExerciseCase(R(201, 1, 1, 2, 7), R(202, 1, 1, 2), 2L),
            new ExerciseCase("a window wider than the source", R(203, 2, 1, 3, 5), R(204, 2, 1, 3), 8L),
        ],
        EdgeCases =
        [
            new ExerciseCase("one source position", R(211, 1, 1, 2, 1), R(212, 1, 1, 2), 1L),
            new ExerciseCase("positions pushed to the edges", R(213, 1, 2, 4, 12), R(214, 1, 2, 4, scale: 30), 3L),
            new ExerciseCase("large scores", R(215, 1, 1, 3, 9, 40), R(216, 1, 1, 3), 2L),
        ],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ =>
        {
            long b = random.Next(1, 3), h = random.Next(1, 3), nq = random.Next(1, 6), s = random.Next(1, 16);
            return new ExerciseCase(R(random.Next(), b, h, nq, s), R(random.Next(), b, h, nq), (long)random.Next(1, 6));
        }).ToList(),
        AbsoluteTolerance = 1e-5,
        RelativeTolerance = 1e-4,
    };

    private static RandomTensor R(long seed, long a, double scale = 1) => new([a], seed, scale);
    private static RandomTensor R(long seed, long a, long b, double scale = 1) => new([a, b], seed, scale);
    private static RandomTensor R(long seed, long a, long b, long c, double scale = 1) => new([a, b, c], seed, scale);
    private static RandomTensor R(long seed, long a, long b, long c, long d, double scale = 1) => new([a, b, c, d], seed, scale);
}
