using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>
/// Echo the previous token: at each position the target is the token just before it. One head that looks one token
/// back solves it, the previous-token head of Olsson et al., "In-context Learning and Induction Heads", 2022
/// (arXiv 2209.11895), section 2, the first half of the induction and recall circuit. Recall tasks alone give that head
/// no direct signal: it helps only once a second head reads what it wrote, so training waits on a plateau (for MQAR,
/// the model first learns to output any value in context, a quarter right with four pairs). Mixed into MQAR training
/// (<see cref="TaskMixture"/>), this task builds the previous-token head in a few dozen steps, and the recall head
/// follows; the kit's quick MQAR recipe does this (the auxiliary task is the kit's own device, not a paper's).
///
/// 1. draw N tokens uniformly; 2. the target at position i ≥ 1 is token i − 1 (position 0 is unscored); with
/// <see cref="ScoredPerRow"/>, only that many positions per row, drawn at random, are scored, so that in a mixture this
/// task does not outweigh a task with few targets per row (the loss averages over all scored positions).
/// The metric is token accuracy. Chance: 1/V.
/// </summary>
public sealed class PreviousToken : ISyntheticTask
{
    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <inheritdoc/>
    public int SequenceLength { get; }
    /// <summary>Scored positions per row (null: every position after the first).</summary>
    public int? ScoredPerRow { get; }
    /// <inheritdoc/>
    public string Name => $"previous-token(N={SequenceLength}, V={VocabSize}{(ScoredPerRow is int k ? $", scored={k}" : "")})";
    /// <inheritdoc/>
    public string MetricName => "previous-token accuracy";

    /// <summary>Sequences of <paramref name="sequenceLength"/> random tokens out of <paramref name="vocabSize"/>, <paramref name="scoredPerRow"/> positions scored per row (null: all).</summary>
    public PreviousToken(int sequenceLength = 64, int vocabSize = 64, int? scoredPerRow = null)
    {
        if (scoredPerRow is int k && (k < 1 || k > sequenceLength - 1))
            throw new ArgumentException($"{nameof(scoredPerRow)}: expected 1 … {sequenceLength - 1} scored positions per row, got {k}", nameof(scoredPerRow));
        ScoredPerRow = scoredPerRow;
        if (sequenceLength < 2) throw new ArgumentException($"{nameof(sequenceLength)}: expected at least 2 tokens (position 1 echoes position 0), got {sequenceLength}", nameof(sequenceLength));
        if (vocabSize < 2) throw new ArgumentException($"{nameof(vocabSize)}: expected at least 2 tokens, got {vocabSize}", nameof(vocabSize));
        (SequenceLength, VocabSize) = (sequenceLength, vocabSize);
    }

    /// <inheritdoc/>
    public TaskBatch Sample(int batch, Generator generator, Device? device = null)
    {
        var target = SyntheticTasks.CheckSample(batch, generator, device);
        var dev = torch.CPU;                                                                                  // drawn on the CPU generator, then moved
        using var scope = torch.NewDisposeScope();
        long b = batch, n = SequenceLength;
        var inputs = torch.randint(0, VocabSize, new[] { b, n }, ScalarType.Int64, dev, generator: generator);  // 1. (B, N)
        var targets = torch.full(new[] { b, n }, SyntheticTasks.Ignore, ScalarType.Int64, dev);
        targets.narrow(1, 1, n - 1).copy_(inputs.narrow(1, 0, n - 1));                                          // 2.
        if (ScoredPerRow is int k)
        {
            var keep = SyntheticTasks.Distinct(b, n - 1, k, generator, dev) + 1;                                 //    (B, k) positions in 1 … N−1
            var scored = torch.zeros(new[] { b, n }, ScalarType.Bool, dev).scatter_(1, keep, torch.ones(new[] { b, (long)k }, ScalarType.Bool, dev));
            targets = targets.masked_fill(scored.logical_not(), SyntheticTasks.Ignore);
        }
        return new TaskBatch { Inputs = inputs.to(target).MoveToOuterDisposeScope(), Targets = targets.to(target).MoveToOuterDisposeScope() };
    }

    /// <inheritdoc/>
    public double Score(Tensor logits, TaskBatch batch)
    {
        SyntheticTasks.CheckScore(this, logits, batch);
        return SyntheticTasks.TokenAccuracy(logits, batch.Targets);
    }
}
