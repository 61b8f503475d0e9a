using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>
/// The repeated-sequence task that induction heads solve. Olsson et al., "In-context Learning and Induction Heads",
/// 2022 (arXiv 2209.11895), section 2: on a random sequence repeated twice, a model can predict the second half only
/// by finding the previous occurrence of the current token and copying the token after it ([A][B] … [A] → [B]),
/// which two heads in series do: a previous-token head, then an induction head.
///
/// 1. draw L distinct tokens (distinct, so every token has a single previous occurrence to find);
/// 2. the sequence is that string twice (N = 2L);
/// 3. in the second half, each token predicts the next one (positions L … 2L−2); the first half is unscored (it is random).
/// The metric is induction accuracy over the second half. Chance: 1/V for a uniform guess.
/// </summary>
public sealed class InductionHeads : ISyntheticTask
{
    /// <summary>Length of the repeated string L.</summary>
    public int Length { get; }
    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <inheritdoc/>
    public int SequenceLength => 2 * Length;
    /// <inheritdoc/>
    public string Name => $"induction(L={Length}, V={VocabSize})";
    /// <inheritdoc/>
    public string MetricName => "induction accuracy";

    /// <summary>Strings of <paramref name="length"/> distinct tokens out of <paramref name="vocabSize"/>, repeated once.</summary>
    public InductionHeads(int length = 16, int vocabSize = 64)
    {
        if (length < 2) throw new ArgumentException($"{nameof(length)}: expected at least 2 tokens (the second half must have a next token), got {length}", nameof(length));
        if (vocabSize < length) throw new ArgumentException($"{nameof(vocabSize)}: {length} distinct tokens need a vocabulary of at least {length}, got {vocabSize}", nameof(vocabSize));
        (Length, VocabSize) = (length, vocabSize);
    }

    /// <inheritdoc/>
    public TaskBatch Sample(int batch, Generator generator, Device? device = null)
    {
        var dev = SyntheticTasks.CheckSample(batch, generator, device);
        using var scope = torch.NewDisposeScope();
        long b = batch, l = Length;
        var x = SyntheticTasks.Distinct(b, VocabSize, l, generator, dev);                                     // 1. (B, L)
        var inputs = torch.cat([x, x], 1);                                                                     // 2. (B, 2L)
        var targets = torch.full(new[] { b, 2 * l }, SyntheticTasks.Ignore, ScalarType.Int64, dev);
        targets.narrow(1, l, l - 1).copy_(x.narrow(1, 1, l - 1));                                             // 3.
        return new TaskBatch { Inputs = inputs.MoveToOuterDisposeScope(), Targets = targets.MoveToOuterDisposeScope() };
    }

    /// <inheritdoc/>
    public double Score(Tensor logits, TaskBatch batch)
    {
        SyntheticTasks.CheckScore(this, logits, batch);
        return SyntheticTasks.TokenAccuracy(logits, batch.Targets);
    }
}
