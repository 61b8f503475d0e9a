using AttnKit.Attention.Blockwise;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>
/// The exercises of notebook 10 (blockwise and ring attention), each checked against the kit's own implementation:
/// the online-softmax update (<see cref="OnlineSoftmax.Update"/>) and the log-sum-exp merge (<see cref="LogSumExpMerge.Merge"/>).
/// </summary>
public static class BlockwiseExercises
{
    /// <summary>Both exercises.</summary>
    public static IEnumerable<ExerciseDefinition> All() => [OnlineSoftmaxUpdate(), LogSumExpMergeExercise()];

    /// <summary>
    /// <c>blockwise.online-softmax</c>: (m, l, acc, s, v) → the new state packed as cat([m', l', acc'], −1), where
    /// m (B, H, N, 1) is the running max, l (B, H, N, 1) the running sum of exp(s − m), acc (B, H, N, Dv) the running
    /// Σ exp(s − m)·v, s (B, H, N, bk) a new block of scores and v (B, H, bk, Dv) its values:
    /// m' = max(m, rowmax s), l' = e^(m − m')·l + Σ exp(s − m'), acc' = e^(m − m')·acc + exp(s − m')·v.
    /// Reference: <see cref="OnlineSoftmax.Update"/> (Milakov &amp; Gimelshein 2018, arXiv 1805.02867; FlashAttention-2, arXiv 2307.08691).
    /// </summary>
    public static ExerciseDefinition OnlineSoftmaxUpdate() => new()
    {
        Id = "blockwise.online-softmax",
        Title = "The online-softmax update",
        Points = 3,
        Parameters = [new("m", typeof(Tensor)), new("l", typeof(Tensor)), new("acc", typeof(Tensor)), new("s", typeof(Tensor)), new("v", typeof(Tensor))],
        Reference = args =>
        {
            var (m, l, acc, s, v) = ((Tensor)args[0], (Tensor)args[1], (Tensor)args[2], (Tensor)args[3], (Tensor)args[4]);
            using var state = new OnlineSoftmaxState(m.clone(), l.clone(), acc.clone());
            OnlineSoftmax.Update(state, s, v);
            return TorchSharp.torch.cat([state.Max, state.Sum, state.Accumulator], -1);
        },
        PublicCases =
        [
            Case(1, b: 1, h: 1, n: 2, bk: 3, dv: 2),
            Case(2, b: 2, h: 2, n: 3, bk: 4, dv: 5, note: "two heads, a block of 4 keys"),
        ],
        EdgeCases =
        [
            Case(3, b: 1, h: 1, n: 4, bk: 1, dv: 3, note: "a block of one key"),
            Case(4, b: 1, h: 2, n: 3, bk: 6, dv: 4, scoreScale: 40, note: "large scores: exp overflows unless taken against the new max"),
            Case(5, b: 1, h: 1, n: 2, bk: 5, dv: 2, maxShift: 20, note: "a running max far above the new scores: no rescaling"),
        ],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ =>
            Case(random.Next(), random.Next(1, 3), random.Next(1, 3), random.Next(1, 6), random.Next(1, 9), random.Next(1, 9))).ToList(),
        AbsoluteTolerance = 1e-4,
        RelativeTolerance = 1e-4,
    };

    /// <summary>
    /// <c>blockwise.lse-merge</c>: (o1, lse1, o2, lse2) → the output of attention over both key sets, where o_i
    /// (B, H, N, Dv) is attention over key set i alone and lse_i (B, H, N) its log-sum-exp:
    /// o = (e^(lse1 − m)·o1 + e^(lse2 − m)·o2) / (e^(lse1 − m) + e^(lse2 − m)), m = max(lse1, lse2).
    /// Reference: the output of <see cref="LogSumExpMerge.Merge"/> (Rabe &amp; Staats 2021, arXiv 2112.05682).
    /// </summary>
    public static ExerciseDefinition LogSumExpMergeExercise() => new()
    {
        Id = "blockwise.lse-merge",
        Title = "Merge two partial attentions with their log-sum-exps",
        Points = 2,
        Parameters = [new("o1", typeof(Tensor)), new("lse1", typeof(Tensor)), new("o2", typeof(Tensor)), new("lse2", typeof(Tensor))],
        Reference = args =>
        {
            using var a = new PartialAttention(((Tensor)args[0]).clone(), ((Tensor)args[1]).clone());
            using var b = new PartialAttention(((Tensor)args[2]).clone(), ((Tensor)args[3]).clone());
            using var merged = LogSumExpMerge.Merge(a, b);
            return merged.Output.clone();
        },
        PublicCases =
        [
            MergeCase(11, 1, 1, 2, 3),
            MergeCase(12, 2, 2, 3, 4, note: "two heads"),
        ],
        EdgeCases =
        [
            MergeCase(13, 1, 1, 4, 2, lseScale: 200, note: "huge log-sum-exps: exp(lse) overflows float32"),
            MergeCase(14, 1, 3, 1, 8),
        ],
        RandomCases = random => Enumerable.Range(0, 4).Select(_ =>
            MergeCase(random.Next(), random.Next(1, 3), random.Next(1, 4), random.Next(1, 6), random.Next(1, 9))).ToList(),
        AbsoluteTolerance = 1e-5,
        RelativeTolerance = 1e-4,
    };

    private static ExerciseCase Case(int seed, long b, long h, long n, long bk, long dv, double scoreScale = 1, double maxShift = 0, string? note = null)
    {
        // the running max is drawn around maxShift; the new scores around 0, times scoreScale
        var m = new RandomTensor([b, h, n, 1], Seed(seed, 0), 1);
        var args = new object[]
        {
            maxShift == 0 ? m : new RandomTensor([b, h, n, 1], Seed(seed, 0), maxShift),
            new RandomTensor([b, h, n, 1], Seed(seed, 1)),
            new RandomTensor([b, h, n, dv], Seed(seed, 2)),
            new RandomTensor([b, h, n, bk], Seed(seed, 3), scoreScale),
            new RandomTensor([b, h, bk, dv], Seed(seed, 4)),
        };
        return note is null ? new ExerciseCase(args) : new ExerciseCase(note, args);
    }

    private static ExerciseCase MergeCase(int seed, long b, long h, long n, long dv, double lseScale = 1, string? note = null)
    {
        var args = new object[]
        {
            new RandomTensor([b, h, n, dv], Seed(seed, 0)),
            new RandomTensor([b, h, n], Seed(seed, 1), lseScale),
            new RandomTensor([b, h, n, dv], Seed(seed, 2)),
            new RandomTensor([b, h, n], Seed(seed, 3), lseScale),
        };
        return note is null ? new ExerciseCase(args) : new ExerciseCase(note, args);
    }

    private static long Seed(int seed, int part) => ((long)seed & 0x3FFFFFFF) * 8 + part;
}
