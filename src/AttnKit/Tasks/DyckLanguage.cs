using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>
/// Dyck-(k, m): balanced strings of k bracket types nested at most m deep, a small hierarchical language. Hewitt et
/// al., "RNNs can generate bounded hierarchical languages with optimal memory", 2020 (arXiv 2010.07515); Yao et al.,
/// "Self-Attention Networks Can Process Bounded Hierarchical Languages", 2021 (arXiv 2105.11115). The model is trained
/// as a language model on every position; it is judged where the string closes a bracket: only one closing bracket
/// is valid there, the partner of the innermost open one, which the model must find by tracking the nesting.
///
/// Vocabulary: opening brackets 0 … k−1, closing brackets k … 2k−1 (k + i closes i). N is even.
/// 1. walk left to right with a stack: open a random type with probability ½, or close the top of the stack;
///    open when the stack is empty, close when it is m deep or when the tokens left equal the depth (so the string ends balanced);
/// 2. targets are the next token at every position (the last is unscored), for language-model training;
/// 3. the metric is closing-bracket accuracy: at each position whose next token closes a bracket, whether the
///    largest logit among the k closing brackets is the right one. Chance: 1/k.
/// </summary>
public sealed class DyckLanguage : ISyntheticTask
{
    /// <summary>Bracket types k.</summary>
    public int Types { get; }
    /// <summary>Greatest nesting depth m.</summary>
    public int MaxDepth { get; }
    /// <inheritdoc/>
    public int SequenceLength { get; }
    /// <inheritdoc/>
    public int VocabSize => 2 * Types;
    /// <inheritdoc/>
    public string Name => $"dyck(k={Types}, m={MaxDepth}, N={SequenceLength})";
    /// <inheritdoc/>
    public string MetricName => "closing-bracket accuracy";

    /// <summary>Dyck-(<paramref name="types"/>, <paramref name="maxDepth"/>) strings of <paramref name="sequenceLength"/> tokens.</summary>
    public DyckLanguage(int types = 2, int maxDepth = 4, int sequenceLength = 32)
    {
        Check.Positive(types, nameof(types));
        Check.Positive(maxDepth, nameof(maxDepth));
        if (sequenceLength < 2 || sequenceLength % 2 != 0)
            throw new ArgumentException($"{nameof(sequenceLength)}: a balanced string has an even length of at least 2, got {sequenceLength}", nameof(sequenceLength));
        (Types, MaxDepth, SequenceLength) = (types, maxDepth, sequenceLength);
    }

    /// <summary>Whether a token is a closing bracket.</summary>
    public bool IsClosing(long token) => token >= Types && token < 2 * Types;

    /// <inheritdoc/>
    public TaskBatch Sample(int batch, Generator generator, Device? device = null)
    {
        var target = SyntheticTasks.CheckSample(batch, generator, device);
        var dev = torch.CPU;                                                                                  // drawn on the CPU generator, then moved
        using var scope = torch.NewDisposeScope();
        long b = batch, n = SequenceLength;
        var coins = torch.rand(new[] { b, n }, generator: generator, device: dev).lt(0.5);                   // drawn up front: one call each
        var types = torch.randint(0, Types, new[] { b, n }, ScalarType.Int64, dev, generator: generator);
        var stack = torch.zeros(new[] { b, (long)MaxDepth }, ScalarType.Int64, dev);                          // (B, m) open types, bottom first
        var depth = torch.zeros(new[] { b, 1L }, ScalarType.Int64, dev);                                      // (B, 1)
        var slots = torch.arange(MaxDepth, ScalarType.Int64, dev).unsqueeze(0);                               // (1, m)
        var columns = new Tensor[n];
        for (long t = 0; t < n; t++)                                                                          // 1.
        {
            long left = n - t;
            var mustClose = depth.ge(MaxDepth).logical_or(depth.ge(left));
            var open = depth.eq(0).logical_or(mustClose.logical_not().logical_and(coins.narrow(1, t, 1)));    // (B, 1)
            var type = types.narrow(1, t, 1);
            var top = stack.gather(1, (depth - 1).clamp_min(0));                                              // (B, 1)
            columns[t] = torch.where(open, type, top + Types);
            stack = torch.where(open.logical_and(slots.eq(depth)), type, stack);                              // push at slot depth
            depth = depth + open.to(ScalarType.Int64) * 2 - 1;                                                  // push: +1, pop: −1
        }
        var inputs = torch.cat(columns, 1);                                                                   // (B, N)
        var targets = torch.full(new[] { b, n }, SyntheticTasks.Ignore, ScalarType.Int64, dev);
        targets.narrow(1, 0, n - 1).copy_(inputs.narrow(1, 1, n - 1));                                       // 2.
        return new TaskBatch { Inputs = inputs.to(target).MoveToOuterDisposeScope(), Targets = targets.to(target).MoveToOuterDisposeScope() };
    }

    /// <inheritdoc/>
    public double Score(Tensor logits, TaskBatch batch)
    {
        SyntheticTasks.CheckScore(this, logits, batch);
        using var scope = torch.NewDisposeScope();
        var closing = batch.Targets.masked_fill(batch.Targets.lt(Types), SyntheticTasks.Ignore);             // 3. only closing targets
        return SyntheticTasks.TokenAccuracy(logits, closing, (Types, Types));
    }
}
