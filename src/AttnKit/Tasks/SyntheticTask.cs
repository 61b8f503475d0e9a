using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>
/// One batch of a token task: inputs (B, N) int64 and, per position, the token the model should predict there
/// (the next token), or <see cref="SyntheticTasks.Ignore"/> (−100) where the position is not scored.
/// </summary>
public sealed class TaskBatch : IDisposable
{
    /// <summary>Input tokens (B, N) int64.</summary>
    public required Tensor Inputs { get; init; }
    /// <summary>Targets (B, N) int64: the next token where scored, −100 elsewhere.</summary>
    public required Tensor Targets { get; init; }

    /// <inheritdoc/>
    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}

/// <summary>
/// A seeded synthetic token task: a generator of batches on a device and the metric that judges a model's logits
/// on them. Every task draws a whole batch with tensor operations from a CPU <see cref="Generator"/> (TorchSharp's
/// generators are CPU generators) and moves it to the device, so the same seed gives the same batch on every device.
/// </summary>
public interface ISyntheticTask
{
    /// <summary>A short name with the parameters, e.g. "mqar(pairs=4, N=64, V=128)".</summary>
    string Name { get; }
    /// <summary>Token ids are in [0, VocabSize).</summary>
    int VocabSize { get; }
    /// <summary>Tokens per sequence N.</summary>
    int SequenceLength { get; }
    /// <summary>What <see cref="Score"/> measures, e.g. "recall accuracy".</summary>
    string MetricName { get; }
    /// <summary>A batch of <paramref name="batch"/> sequences drawn with <paramref name="generator"/> on <paramref name="device"/> (default: the kit's device).</summary>
    TaskBatch Sample(int batch, Generator generator, Device? device = null);
    /// <summary>The task's metric in [0, 1] for logits (B, N, V) on <paramref name="batch"/>.</summary>
    double Score(Tensor logits, TaskBatch batch);
}

/// <summary>Helpers shared by the tasks: the ignore index, seeded sampling, token accuracy.</summary>
public static class SyntheticTasks
{
    /// <summary>The target of a position that is not scored (PyTorch's cross-entropy ignore_index).</summary>
    public const long Ignore = -100;

    /// <summary>A batch drawn from a fresh generator seeded with <paramref name="seed"/> on the device: the same seed gives the same batch.</summary>
    public static TaskBatch Sample(this ISyntheticTask task, int batch, long seed, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        var dev = device ?? Kit.Device;
        using var generator = new Generator((ulong)seed);
        return task.Sample(batch, generator, dev);
    }

    /// <summary>
    /// The share of scored positions (target ≠ −100) where argmax(logits) equals the target; restricted to the
    /// logits of <paramref name="among"/> (a token range) when given, e.g. to judge only among closing brackets.
    /// </summary>
    public static double TokenAccuracy(Tensor logits, Tensor targets, (int Start, int Count)? among = null)
    {
        CheckLogits(logits, targets);
        using var scope = torch.NewDisposeScope();
        var scored = targets.ne(Ignore);                                                   // (B, N)
        long count = scored.sum().item<long>();
        if (count == 0) return double.NaN;
        var l = logits.detach();
        var predicted = among is (int start, int n) ? l.narrow(-1, start, n).argmax(-1) + start : l.argmax(-1); // (B, N)
        long correct = predicted.eq(targets).logical_and(scored).sum().item<long>();
        return (double)correct / count;
    }

    /// <summary>Checks logits (B, N, V) against targets (B, N).</summary>
    public static void CheckLogits(Tensor logits, Tensor targets)
    {
        Check.Rank(logits, 3, nameof(logits), "(B, N, V)");
        Check.Rank(targets, 2, nameof(targets), "(B, N)");
        Check.FloatingPoint(logits, nameof(logits));
        Check.Dim(logits, 0, targets.shape[0], nameof(logits), "batch B like the targets");
        Check.Dim(logits, 1, targets.shape[1], nameof(logits), "tokens N like the targets");
        Check.SameDevice(targets, nameof(targets), logits, nameof(logits));
    }

    /// <summary>Checks a batch size and a generator.</summary>
    internal static Device CheckSample(int batch, Generator generator, Device? device)
    {
        Check.Positive(batch, nameof(batch));
        ArgumentNullException.ThrowIfNull(generator);
        if (generator.device.type != DeviceType.CPU)
            throw new ArgumentException($"{nameof(generator)}: expected a CPU generator (tasks draw on the CPU and move the batch), got one on {generator.device}", nameof(generator));
        return device ?? Kit.Device;
    }

    /// <summary>Checks logits for a task: (B, N, V) with N and V of the task.</summary>
    internal static void CheckScore(ISyntheticTask task, Tensor logits, TaskBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        CheckLogits(logits, batch.Targets);
        Check.Dim(logits, 2, task.VocabSize, nameof(logits), "the task's vocabulary V");
    }

    /// <summary>k distinct integers from [0, n) per row, uniformly: (B, k) int64 (the first k of a random permutation).</summary>
    internal static Tensor Distinct(long batch, long n, long k, Generator g, Device dev) =>
        torch.rand(new[] { batch, n }, generator: g, device: dev).argsort(-1).narrow(1, 0, k);  // (B, k)
}
