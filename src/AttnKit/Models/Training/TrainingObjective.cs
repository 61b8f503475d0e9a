using AttnKit.Core;
using AttnKit.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Models.Training;

/// <summary>
/// What a <see cref="Trainer"/> trains: a module, and how one step's loss and metric come from a fresh batch.
/// <see cref="LanguageModelObjective"/> trains a <see cref="TinyLm"/> on a token task; <see cref="RegressionObjective"/>
/// an <see cref="InContextRegressor"/> on in-context regression.
/// </summary>
public interface ITrainingObjective
{
    /// <summary>The module whose parameters are trained (the float32 master weights).</summary>
    nn.Module Module { get; }
    /// <summary>The task's name.</summary>
    string Name { get; }
    /// <summary>The metric's name.</summary>
    string MetricName { get; }
    /// <summary>True for accuracies, false for errors.</summary>
    bool HigherIsBetter { get; }
    /// <summary>Input tokens per sequence (for tokens/s).</summary>
    int TokensPerSequence { get; }
    /// <summary>A new module of the same architecture on the same device in <paramref name="dtype"/> (the trainer copies the weights in).</summary>
    nn.Module NewCopy(ScalarType dtype);
    /// <summary>Draws a batch with <paramref name="generator"/>, runs <paramref name="model"/>: the loss (a float32 scalar with its graph) and the metric on the batch.</summary>
    (Tensor Loss, double Metric) Step(nn.Module model, int batch, Generator generator);
    /// <summary>The metric of <paramref name="model"/> on a batch drawn with <paramref name="generator"/> (no gradients).</summary>
    double Evaluate(nn.Module model, int batch, Generator generator);
}

/// <summary>
/// Next-token training of a <see cref="TinyLm"/> on a token task: cross-entropy over the scored positions only
/// (targets −100 elsewhere), computed in float32 whatever the model's dtype.
/// 1. draw a batch (inputs, targets); 2. logits = model(inputs) (B, N, V);
/// 3. loss = mean over scored positions of −log softmax(logits)[target].
/// </summary>
public sealed class LanguageModelObjective : ITrainingObjective
{
    private readonly TinyLm model;

    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="task"/> and evaluates it on <paramref name="evalTask"/> (default:
    /// the same task; e.g. a mixture for training and one of its parts for the target). Vocabularies must match.
    /// </summary>
    public LanguageModelObjective(TinyLm model, ISyntheticTask task, ISyntheticTask? evalTask = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(task);
        evalTask ??= task;
        foreach (var t in new[] { task, evalTask })
            if (model.Config.VocabSize != t.VocabSize)
                throw new ArgumentException($"{nameof(model)}: expected a vocabulary of {t.VocabSize} tokens like the task {t.Name}, got a model with {model.Config.VocabSize}", nameof(model));
        (this.model, Task, EvalTask) = (model, task, evalTask);
    }

    /// <summary>The training task.</summary>
    public ISyntheticTask Task { get; }
    /// <summary>The task of the held-out metric.</summary>
    public ISyntheticTask EvalTask { get; }
    /// <inheritdoc/>
    public nn.Module Module => model;
    /// <inheritdoc/>
    public string Name => ReferenceEquals(Task, EvalTask) ? Task.Name : $"{Task.Name} → {EvalTask.Name}";
    /// <inheritdoc/>
    public string MetricName => EvalTask.MetricName;
    /// <inheritdoc/>
    public bool HigherIsBetter => true;
    /// <inheritdoc/>
    public int TokensPerSequence => Task.SequenceLength;

    /// <inheritdoc/>
    public nn.Module NewCopy(ScalarType dtype) => Training.Quietly(() => new TinyLm(model.Config, model.Device, dtype));

    /// <summary>The cross-entropy of logits (B, N, V) against targets (B, N) over the positions whose target is not −100, in float32. (3.)</summary>
    public static Tensor Loss(Tensor logits, Tensor targets)
    {
        SyntheticTasks.CheckLogits(logits, targets);
        using var scope = torch.NewDisposeScope();
        long v = logits.shape[2];
        return nn.functional.cross_entropy(logits.to(ScalarType.Float32).view(-1, v), targets.view(-1), ignore_index: SyntheticTasks.Ignore).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public (Tensor Loss, double Metric) Step(nn.Module model, int batch, Generator generator)
    {
        var lm = Training.As<TinyLm>(model, nameof(model));
        using var scope = torch.NewDisposeScope();
        using var data = Task.Sample(batch, generator, lm.Device);                                        // 1.
        var logits = lm.Forward(data.Inputs);                                                              // 2. (B, N, V)
        var loss = Loss(logits, data.Targets);                                                             // 3.
        return (loss.MoveToOuterDisposeScope(), Task.Score(logits, data));
    }

    /// <inheritdoc/>
    public double Evaluate(nn.Module model, int batch, Generator generator)
    {
        var lm = Training.As<TinyLm>(model, nameof(model));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var data = EvalTask.Sample(batch, generator, lm.Device);
        return EvalTask.Score(lm.Forward(data.Inputs), data);
    }
}

/// <summary>In-context regression under a causal or a prefix-LM mask: the mean squared error of the queries' predictions.</summary>
public sealed class RegressionObjective : ITrainingObjective
{
    private readonly InContextRegressor model;

    /// <summary>Trains <paramref name="model"/> with the prefix-LM mask (<paramref name="prefix"/>) or the causal one.</summary>
    public RegressionObjective(InContextRegressor model, bool prefix)
    {
        ArgumentNullException.ThrowIfNull(model);
        (this.model, Prefix) = (model, prefix);
    }

    /// <summary>Whether the examples attend to each other (prefix-LM) or causally.</summary>
    public bool Prefix { get; }
    /// <summary>The task.</summary>
    public InContextRegression Task => model.Task;
    /// <inheritdoc/>
    public nn.Module Module => model;
    /// <inheritdoc/>
    public string Name => $"{Task.Name} {(Prefix ? "prefix-LM" : "causal")}";
    /// <inheritdoc/>
    public string MetricName => "mse";
    /// <inheritdoc/>
    public bool HigherIsBetter => false;
    /// <inheritdoc/>
    public int TokensPerSequence => Task.SequenceLength;

    /// <inheritdoc/>
    public nn.Module NewCopy(ScalarType dtype) => Training.Quietly(() => new InContextRegressor(Task, model.Body.Config, model.Body.Device, dtype));

    /// <inheritdoc/>
    public (Tensor Loss, double Metric) Step(nn.Module model, int batch, Generator generator)
    {
        var r = Training.As<InContextRegressor>(model, nameof(model));
        using var scope = torch.NewDisposeScope();
        using var data = Task.Sample(batch, generator, r.Body.Device);
        using var result = r.Run(data.Inputs, Prefix ? Task.PrefixMask : Task.CausalMask);
        var loss = Task.Error(result.Output, data);
        return (loss.MoveToOuterDisposeScope(), loss.item<float>());
    }

    /// <inheritdoc/>
    public double Evaluate(nn.Module model, int batch, Generator generator)
    {
        var r = Training.As<InContextRegressor>(model, nameof(model));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var data = Task.Sample(batch, generator, r.Body.Device);
        using var result = r.Run(data.Inputs, Prefix ? Task.PrefixMask : Task.CausalMask);
        return Task.Score(result.Output, data);
    }
}

/// <summary>Small helpers of the training code.</summary>
internal static class Training
{
    public static T As<T>(nn.Module module, string name) where T : nn.Module =>
        module as T ?? throw new ArgumentException($"{name}: expected a {typeof(T).Name}, got {module?.GetType().Name ?? "null"}", name);

    /// <summary>Runs <paramref name="make"/> (which initialises weights from the global generator) and puts the CPU generator's state back, so making a copy does not shift the caller's random stream.</summary>
    public static T Quietly<T>(Func<T> make)
    {
        using var state = torch.random.get_rng_state();
        try { return make(); }
        finally { torch.random.set_rng_state(state); }
    }
}
