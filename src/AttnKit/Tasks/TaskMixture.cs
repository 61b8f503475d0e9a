using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>
/// A mixture of token tasks of one vocabulary and one sequence length: each batch is split into equal shares, one per
/// task, drawn from the same generator. Zoology (Arora et al., 2023, arXiv 2312.04927, section 3.2) trains MQAR on a
/// mixture of key–value counts this way and tests on other ones; the kit's quick MQAR recipe trains on 4, 8 and 16
/// pairs, where the denser queries of the harder settings teach the recall circuit sooner, and tests on 4.
/// The metric is token accuracy over the scored positions of all shares.
/// </summary>
public sealed class TaskMixture : ISyntheticTask
{
    private readonly ISyntheticTask[] tasks;

    /// <summary>A mixture of <paramref name="tasks"/> (at least one; same vocabulary and sequence length).</summary>
    public TaskMixture(params ISyntheticTask[] tasks)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        if (tasks.Length == 0) throw new ArgumentException($"{nameof(tasks)}: expected at least one task, got none", nameof(tasks));
        foreach (var t in tasks)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tasks));
            if (t.VocabSize != tasks[0].VocabSize || t.SequenceLength != tasks[0].SequenceLength)
                throw new ArgumentException($"{nameof(tasks)}: expected one vocabulary and sequence length ({tasks[0].VocabSize}, {tasks[0].SequenceLength}) like {tasks[0].Name}, got ({t.VocabSize}, {t.SequenceLength}) for {t.Name}", nameof(tasks));
        }
        this.tasks = [.. tasks];
    }

    /// <summary>The tasks mixed.</summary>
    public IReadOnlyList<ISyntheticTask> Tasks => tasks;
    /// <inheritdoc/>
    public string Name => "mix[" + string.Join(", ", tasks.Select(t => t.Name)) + "]";
    /// <inheritdoc/>
    public int VocabSize => tasks[0].VocabSize;
    /// <inheritdoc/>
    public int SequenceLength => tasks[0].SequenceLength;
    /// <inheritdoc/>
    public string MetricName => "token accuracy";

    /// <inheritdoc/>
    public TaskBatch Sample(int batch, Generator generator, Device? device = null)
    {
        var dev = SyntheticTasks.CheckSample(batch, generator, device);
        using var scope = torch.NewDisposeScope();
        var inputs = new List<Tensor>();
        var targets = new List<Tensor>();
        for (int i = 0; i < tasks.Length; i++)
        {
            int rows = (int)((long)(i + 1) * batch / tasks.Length - (long)i * batch / tasks.Length);       // equal shares
            if (rows == 0) continue;
            var part = tasks[i].Sample(rows, generator, dev);
            inputs.Add(part.Inputs);
            targets.Add(part.Targets);
        }
        return new TaskBatch { Inputs = torch.cat(inputs, 0).MoveToOuterDisposeScope(), Targets = torch.cat(targets, 0).MoveToOuterDisposeScope() };
    }

    /// <inheritdoc/>
    public double Score(Tensor logits, TaskBatch batch)
    {
        SyntheticTasks.CheckScore(this, logits, batch);
        return SyntheticTasks.TokenAccuracy(logits, batch.Targets);
    }
}
