using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>
/// Multi-query associative recall (MQAR). Arora et al., "Zoology: Measuring and Improving Recall in Efficient
/// Language Models", 2023 (arXiv 2312.04927), section 3.1; used again in Arora et al., "Simple linear attention
/// language models balance the recall-throughput tradeoff" (BASED), 2024 (arXiv 2402.18668). A sequence first lists
/// P key–value pairs, then, later, queries each key again; at each query the model must produce the key's value.
/// Attention solves it with two heads: a previous-token head, and a recall (induction) head that looks from the
/// query back to the token after the key's first occurrence.
///
/// Vocabulary: token 0 is a blank filler, keys are 1 … K, values K+1 … V−1 (K = (V−1)/2).
/// 1. draw P distinct keys and P values per row; write k₁ v₁ k₂ v₂ … k_P v_P at positions 0 … 2P−1;
/// 2. cut the rest of the sequence into slots of two tokens and pick P of them uniformly (Zoology draws the gaps
///    from a power law; uniform slots are the simpler choice here);
/// 3. write the keys, in a random order, at the picked slots, each followed by its value (so the text reads
///    "key value" again), blanks elsewhere;
/// 4. the target at each query key is its value; every other position is unscored (−100).
/// The metric is recall accuracy: the share of queries whose argmax is the right value. Chance: 1/V for a uniform
/// guess (1/(V−K−1) for one that knows values come from the value range).
/// </summary>
public sealed class MultiQueryAssociativeRecall : ISyntheticTask
{
    /// <summary>Key–value pairs per sequence P.</summary>
    public int Pairs { get; }
    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <inheritdoc/>
    public int SequenceLength { get; }
    /// <summary>Key tokens K (1 … K).</summary>
    public int Keys => (VocabSize - 1) / 2;
    /// <inheritdoc/>
    public string Name => $"mqar(pairs={Pairs}, N={SequenceLength}, V={VocabSize})";
    /// <inheritdoc/>
    public string MetricName => "recall accuracy";

    /// <summary>MQAR with <paramref name="pairs"/> pairs in sequences of <paramref name="sequenceLength"/> tokens over <paramref name="vocabSize"/> tokens.</summary>
    public MultiQueryAssociativeRecall(int pairs = 4, int sequenceLength = 64, int vocabSize = 128)
    {
        Check.Positive(pairs, nameof(pairs));
        Check.Positive(sequenceLength, nameof(sequenceLength));
        if (vocabSize < 2 * pairs + 2)
            throw new ArgumentException($"{nameof(vocabSize)}: expected at least {2 * pairs + 2} tokens (a blank, then {pairs} distinct keys and values), got {vocabSize}", nameof(vocabSize));
        if (sequenceLength < 4 * pairs)
            throw new ArgumentException($"{nameof(sequenceLength)}: {pairs} pairs and their {pairs} queries need at least {4 * pairs} tokens, got {sequenceLength}", nameof(sequenceLength));
        (Pairs, SequenceLength, VocabSize) = (pairs, sequenceLength, vocabSize);
    }

    /// <inheritdoc/>
    public TaskBatch Sample(int batch, Generator generator, Device? device = null)
    {
        var target = SyntheticTasks.CheckSample(batch, generator, device);
        var dev = torch.CPU;                                                                                  // drawn on the CPU generator, then moved
        using var scope = torch.NewDisposeScope();
        long b = batch, p = Pairs, n = SequenceLength, slots = (n - 2 * p) / 2;
        var keys = SyntheticTasks.Distinct(b, Keys, p, generator, dev) + 1;                                   // 1. (B, P) in 1 … K
        var values = torch.randint(Keys + 1, VocabSize, new[] { b, p }, ScalarType.Int64, dev, generator: generator); // (B, P)
        var inputs = torch.zeros(new[] { b, n }, ScalarType.Int64, dev);
        inputs.narrow(1, 0, 2 * p).copy_(torch.stack([keys, values], 2).view(b, 2 * p));                    //    (B, 2P)
        var slot = SyntheticTasks.Distinct(b, slots, p, generator, dev);                                      // 2. (B, P)
        var at = slot * 2 + 2 * p;                                                                            //    query positions (B, P)
        var order = torch.rand(new[] { b, p }, generator: generator, device: dev).argsort(-1);                // 3. a random query order
        var qKeys = keys.gather(1, order);
        var qValues = values.gather(1, order);
        inputs.scatter_(1, at, qKeys).scatter_(1, at + 1, qValues);
        var targets = torch.full(new[] { b, n }, SyntheticTasks.Ignore, ScalarType.Int64, dev).scatter_(1, at, qValues); // 4.
        return new TaskBatch { Inputs = inputs.to(target).MoveToOuterDisposeScope(), Targets = targets.to(target).MoveToOuterDisposeScope() };
    }

    /// <inheritdoc/>
    public double Score(Tensor logits, TaskBatch batch)
    {
        SyntheticTasks.CheckScore(this, logits, batch);
        return SyntheticTasks.TokenAccuracy(logits, batch.Targets);
    }
}
