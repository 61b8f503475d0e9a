using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>
/// The repeated-segment task that induction heads solve. Olsson et al., "In-context Learning and Induction Heads",
/// 2022 (arXiv 2209.11895), section 2: when a segment of random tokens occurs a second time, each of its tokens can be
/// predicted only by finding the previous occurrence of the current token and copying the token after it
/// ([A][B] … [A] → [B]), which two heads in series do: a previous-token head, then an induction head.
/// The two occurrences sit at random places, so that no fixed positional offset solves the task (a segment simply
/// repeated at distance L would be solved by one head looking L − 1 tokens back).
///
/// 1. draw a random permutation of the vocabulary per row: its first L tokens are the segment, the rest are filler;
/// 2. fill the sequence with random filler tokens (never equal to a segment token);
/// 3. draw the starts a &lt; b with b − a ≥ L uniformly among the placements that fit, and write the segment at both;
/// 4. in the second occurrence, each token predicts the next one (L − 1 scored positions); the rest is unscored.
/// The metric is induction accuracy. Chance: 1/V for a uniform guess.
/// </summary>
public sealed class InductionHeads : ISyntheticTask
{
    /// <summary>Length of the repeated segment L.</summary>
    public int Length { get; }
    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <inheritdoc/>
    public int SequenceLength { get; }
    /// <inheritdoc/>
    public string Name => $"induction(L={Length}, N={SequenceLength}, V={VocabSize})";
    /// <inheritdoc/>
    public string MetricName => "induction accuracy";

    /// <summary>A segment of <paramref name="length"/> distinct tokens, twice, in <paramref name="sequenceLength"/> tokens over <paramref name="vocabSize"/> tokens.</summary>
    public InductionHeads(int length = 8, int sequenceLength = 32, int vocabSize = 64)
    {
        if (length < 2) throw new ArgumentException($"{nameof(length)}: expected at least 2 tokens (a repeated token must have a next one), got {length}", nameof(length));
        if (sequenceLength < 2 * length)
            throw new ArgumentException($"{nameof(sequenceLength)}: two occurrences of {length} tokens need at least {2 * length}, got {sequenceLength}", nameof(sequenceLength));
        int needed = sequenceLength > 2 * length ? length + 1 : length;
        if (vocabSize < needed)
            throw new ArgumentException($"{nameof(vocabSize)}: {length} distinct segment tokens{(needed > length ? " and a filler token" : "")} need a vocabulary of at least {needed}, got {vocabSize}", nameof(vocabSize));
        (Length, SequenceLength, VocabSize) = (length, sequenceLength, vocabSize);
    }

    /// <inheritdoc/>
    public TaskBatch Sample(int batch, Generator generator, Device? device = null)
    {
        var target = SyntheticTasks.CheckSample(batch, generator, device);
        var dev = torch.CPU;                                                                                  // drawn on the CPU generator, then moved
        using var scope = torch.NewDisposeScope();
        long b = batch, l = Length, n = SequenceLength, v = VocabSize, slack = n - 2 * l;
        var perm = torch.rand(new[] { b, v }, generator: generator, device: dev).argsort(-1);                // 1. (B, V)
        var segment = perm.narrow(1, 0, l);                                                                    //    (B, L)
        var inputs = v > l
            ? perm.narrow(1, l, v - l).gather(1, torch.randint(0, v - l, new[] { b, n }, ScalarType.Int64, dev, generator: generator)) // 2. (B, N)
            : torch.zeros(new[] { b, n }, ScalarType.Int64, dev);
        var u = torch.randint(0, slack + 1, new[] { b, 2L }, ScalarType.Int64, dev, generator: generator).sort(-1).Values; // 3. u₁ ≤ u₂
        var first = u.narrow(1, 0, 1);                                                                        //    a = u₁
        var second = u.narrow(1, 1, 1) + l;                                                                   //    b = u₂ + L ≥ a + L
        var offsets = torch.arange(l, ScalarType.Int64, dev).unsqueeze(0);                                   //    (1, L)
        inputs.scatter_(1, first + offsets, segment).scatter_(1, second + offsets, segment);
        var targets = torch.full(new[] { b, n }, SyntheticTasks.Ignore, ScalarType.Int64, dev);
        targets.scatter_(1, second + offsets.narrow(1, 0, l - 1), segment.narrow(1, 1, l - 1));              // 4.
        return new TaskBatch { Inputs = inputs.to(target).MoveToOuterDisposeScope(), Targets = targets.to(target).MoveToOuterDisposeScope() };
    }

    /// <inheritdoc/>
    public double Score(Tensor logits, TaskBatch batch)
    {
        SyntheticTasks.CheckScore(this, logits, batch);
        return SyntheticTasks.TokenAccuracy(logits, batch.Targets);
    }
}
