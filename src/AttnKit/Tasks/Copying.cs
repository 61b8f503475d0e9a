using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>
/// Copying a random string. Jelassi et al., "Repeat After Me: Transformers are Better than State Space Models at
/// Copying", 2024 (arXiv 2402.01032), section 2: the model reads a string of L random tokens, a separator, and must
/// write the string again; a transformer does it with a head that attends L + 1 tokens back.
///
/// Vocabulary: token 0 is the separator, content tokens are 1 … V−1. N = 2L + 1.
/// 1. draw x₁ … x_L uniformly from the content tokens;
/// 2. the sequence is x₁ … x_L, separator, x₁ … x_L;
/// 3. the targets are the copy: the separator predicts x₁, the copy's token i predicts x_{i+1}; the string itself is unscored.
/// The metric is token accuracy over the copy. Chance: 1/V for a uniform guess.
/// </summary>
public sealed class Copying : ISyntheticTask
{
    /// <summary>The separator token.</summary>
    public const int Separator = 0;

    /// <summary>Tokens to copy L.</summary>
    public int Length { get; }
    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <inheritdoc/>
    public int SequenceLength => 2 * Length + 1;
    /// <inheritdoc/>
    public string Name => $"copy(L={Length}, V={VocabSize})";
    /// <inheritdoc/>
    public string MetricName => "copy accuracy";

    /// <summary>Copy strings of <paramref name="length"/> tokens over <paramref name="vocabSize"/> tokens.</summary>
    public Copying(int length = 16, int vocabSize = 32)
    {
        Check.Positive(length, nameof(length));
        if (vocabSize < 3) throw new ArgumentException($"{nameof(vocabSize)}: expected at least 3 tokens (a separator and two content tokens), got {vocabSize}", nameof(vocabSize));
        (Length, VocabSize) = (length, vocabSize);
    }

    /// <inheritdoc/>
    public TaskBatch Sample(int batch, Generator generator, Device? device = null)
    {
        var target = SyntheticTasks.CheckSample(batch, generator, device);
        var dev = torch.CPU;                                                                                  // drawn on the CPU generator, then moved
        using var scope = torch.NewDisposeScope();
        long b = batch, l = Length;
        var x = torch.randint(1, VocabSize, new[] { b, l }, ScalarType.Int64, dev, generator: generator);      // 1. (B, L)
        var sep = torch.full(new[] { b, 1L }, Separator, ScalarType.Int64, dev);
        var inputs = torch.cat([x, sep, x], 1);                                                                // 2. (B, 2L+1)
        var targets = torch.full(new[] { b, 2 * l + 1 }, SyntheticTasks.Ignore, ScalarType.Int64, dev);
        targets.narrow(1, l, l).copy_(x);                                                                      // 3.
        return new TaskBatch { Inputs = inputs.to(target).MoveToOuterDisposeScope(), Targets = targets.to(target).MoveToOuterDisposeScope() };
    }

    /// <inheritdoc/>
    public double Score(Tensor logits, TaskBatch batch)
    {
        SyntheticTasks.CheckScore(this, logits, batch);
        return SyntheticTasks.TokenAccuracy(logits, batch.Targets);
    }
}
