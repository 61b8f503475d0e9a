using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>
/// Passkey retrieval (a needle in a haystack). Mohtashami and Jaggi, "Landmark Attention: Random-Access Infinite
/// Context Length for Transformers", 2023 (arXiv 2305.16300), section 4.2: a random pass key is hidden at some depth
/// of a long filler text, and the model must repeat it at the end. Here in tokens:
///
/// Vocabulary: digits 0 … 9 are tokens 0 … 9, the marker "the pass key is" is token 10, the question "what is the
/// pass key?" is token 11, filler tokens are 12 … V−1.
/// 1. fill the sequence with a fixed repeating filler text (12, 13, …, V−1, 12, 13, …), as the paper repeats one sentence;
/// 2. at the depth (a fraction of the haystack: 0 = start, 1 = just before the question) write the marker and the
///    key's D digits;
/// 3. end with the question and the D digits again;
/// 4. the targets are the key's digits at the end (each predicted from the token before it); the rest is unscored.
/// The metric is digit accuracy over the key's digits. Chance: 1/V for a uniform guess.
/// </summary>
public sealed class PasskeyRetrieval : ISyntheticTask
{
    /// <summary>The marker token before the hidden key.</summary>
    public const int KeyMarker = 10;
    /// <summary>The question token before the answer.</summary>
    public const int Question = 11;
    /// <summary>The first filler token.</summary>
    public const int FirstFiller = 12;

    /// <summary>Digits of the pass key D.</summary>
    public int Digits { get; }
    /// <summary>Where the key is hidden, 0 (start) … 1 (end of the haystack); null: a uniform depth per row.</summary>
    public double? Depth { get; }
    /// <inheritdoc/>
    public int VocabSize { get; }
    /// <inheritdoc/>
    public int SequenceLength { get; }
    /// <inheritdoc/>
    public string Name => $"passkey(N={SequenceLength}, depth={(Depth is double d ? d.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) : "random")}, digits={Digits})";
    /// <inheritdoc/>
    public string MetricName => "digit accuracy";

    /// <summary>Positions the key can start at (the haystack before the question, less the key itself): 0 … Room.</summary>
    public int Room => SequenceLength - 2 * (Digits + 1);

    /// <summary>A pass key of <paramref name="digits"/> digits at <paramref name="depth"/> in <paramref name="sequenceLength"/> tokens.</summary>
    public PasskeyRetrieval(int sequenceLength = 64, double? depth = null, int digits = 5, int vocabSize = 16)
    {
        Check.Positive(digits, nameof(digits));
        if (sequenceLength < 2 * (digits + 1))
            throw new ArgumentException($"{nameof(sequenceLength)}: the key and the answer need at least {2 * (digits + 1)} tokens, got {sequenceLength}", nameof(sequenceLength));
        if (depth is double d && !(d >= 0 && d <= 1))
            throw new ArgumentException($"{nameof(depth)}: expected a fraction in [0, 1] or null (random), got {d}", nameof(depth));
        if (vocabSize <= FirstFiller)
            throw new ArgumentException($"{nameof(vocabSize)}: expected more than {FirstFiller} tokens (digits, two markers, at least one filler), got {vocabSize}", nameof(vocabSize));
        (SequenceLength, Depth, Digits, VocabSize) = (sequenceLength, depth, digits, vocabSize);
    }

    /// <inheritdoc/>
    public TaskBatch Sample(int batch, Generator generator, Device? device = null)
    {
        var target = SyntheticTasks.CheckSample(batch, generator, device);
        var dev = torch.CPU;                                                                                  // drawn on the CPU generator, then moved
        using var scope = torch.NewDisposeScope();
        long b = batch, n = SequenceLength, d = Digits;
        long fillers = VocabSize - FirstFiller;
        var inputs = (torch.arange(n, ScalarType.Int64, dev) % fillers + FirstFiller).unsqueeze(0).repeat(b, 1);  // 1. (B, N)
        var key = torch.randint(0, 10, new[] { b, d }, ScalarType.Int64, dev, generator: generator);              //    (B, D)
        var start = Depth is double depth
            ? torch.full(new[] { b, 1L }, (long)Math.Round(depth * Room), ScalarType.Int64, dev)
            : torch.randint(0, Room + 1, new[] { b, 1L }, ScalarType.Int64, dev, generator: generator);            // 2. (B, 1)
        var offsets = torch.arange(d + 1, ScalarType.Int64, dev).unsqueeze(0);                                     //    (1, D+1)
        var marked = torch.cat([torch.full(new[] { b, 1L }, KeyMarker, ScalarType.Int64, dev), key], 1);           //    (B, D+1)
        inputs.scatter_(1, start + offsets, marked);
        inputs.narrow(1, n - d - 1, 1).fill_(Question);                                                            // 3.
        inputs.narrow(1, n - d, d).copy_(key);
        var targets = torch.full(new[] { b, n }, SyntheticTasks.Ignore, ScalarType.Int64, dev);
        targets.narrow(1, n - d - 1, d).copy_(key);                                                                // 4.
        return new TaskBatch { Inputs = inputs.to(target).MoveToOuterDisposeScope(), Targets = targets.to(target).MoveToOuterDisposeScope() };
    }

    /// <inheritdoc/>
    public double Score(Tensor logits, TaskBatch batch)
    {
        SyntheticTasks.CheckScore(this, logits, batch);
        return SyntheticTasks.TokenAccuracy(logits, batch.Targets);
    }
}
