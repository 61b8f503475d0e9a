using System.Diagnostics;
using System.Text.Json;
using AttnKit.Core;
using AttnKit.Tasks;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Models.Training;

/// <summary>How a training run ended.</summary>
/// <param name="Steps">Steps done in total.</param>
/// <param name="FinalLoss">The last step's training loss.</param>
/// <param name="EvalMetric">The last held-out metric.</param>
/// <param name="ReachedTarget">Whether the held-out metric reached <see cref="TrainOptions.TargetMetric"/>.</param>
/// <param name="TimeToTarget">Wall time until it did (evaluations included).</param>
/// <param name="Elapsed">Wall time in total.</param>
/// <param name="TokensPerSecond">Training tokens per second (steps only).</param>
/// <param name="StopReason">"target reached", "all steps done", "time limit", "stopped at step N".</param>
public sealed record TrainResult(int Steps, double FinalLoss, double? EvalMetric, bool ReachedTarget, TimeSpan? TimeToTarget, TimeSpan Elapsed, double TokensPerSecond, string StopReason);

/// <summary>
/// Trains a model on an objective (<see cref="ITrainingObjective"/>) with AdamW (Loshchilov and Hutter, "Decoupled
/// Weight Decay Regularization", 2017, arXiv 1711.05101), a linear warm-up then a cosine decay of the learning rate
/// (<see cref="TrainOptions.LearningRateAt"/>), global gradient-norm clipping, and float32 or bf16 mixed precision
/// (<see cref="MixedPrecision"/>). Step s trains on a batch drawn from a generator seeded by (seed, s), so a run is
/// repeatable on the CPU (on CUDA some backward kernels add in a nondeterministic order) and a run resumed from a
/// checkpoint continues exactly as the uninterrupted one.
///
/// Each step, inside its own dispose scope:
/// 1. set the learning rate of step s; draw the batch of step s;
/// 2. (mixed) copy the master weights into the bf16 module;
/// 3. forward, loss, backward; (mixed) copy the gradients back as float32;
/// 4. clip the global gradient norm; AdamW update;
/// 5. every <see cref="TrainOptions.EvalEvery"/> steps, measure the held-out metric and stop at the target.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly ITrainingObjective objective;
    private readonly Parameter[] parameters;
    private readonly AdamW optimizer;
    private readonly MixedPrecision? mixed;
    private readonly Device device;
    private readonly List<TrainProgress> history = [];
    private double trainSeconds, elapsedSeconds;
    private long tokens;

    /// <summary>A trainer of <paramref name="objective"/> with <paramref name="options"/>.</summary>
    public Trainer(ITrainingObjective objective, TrainOptions options)
    {
        ArgumentNullException.ThrowIfNull(objective);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        (this.objective, Options) = (objective, options);
        parameters = objective.Module.parameters().ToArray();
        if (parameters.Length == 0) throw new ArgumentException($"{nameof(objective)}: the module has no parameters to train", nameof(objective));
        using (var first = parameters[0].alias())
        {
            device = first.device;
            if (first.dtype != ScalarType.Float32)
                throw new ArgumentException($"{nameof(objective)}: expected float32 (master) weights, got {first.dtype}; mixed precision keeps its bf16 copy itself (TrainPrecision.BFloat16Mixed)", nameof(objective));
        }
        Precision = options.Precision == TrainPrecision.Auto
            ? (device.type == DeviceType.CUDA ? TrainPrecision.BFloat16Mixed : TrainPrecision.Float32)
            : options.Precision;
        if (Precision == TrainPrecision.BFloat16Mixed) mixed = new MixedPrecision(objective.Module, objective.NewCopy(ScalarType.BFloat16));
        // AdamW with decoupled weight decay on matrices only (norm gains and biases are not decayed)
        var decay = new AdamW.ParamGroup(parameters.Where(p => p.dim() >= 2), options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay, false, false);
        var plain = new AdamW.ParamGroup(parameters.Where(p => p.dim() < 2), options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, 0, false, false);
        optimizer = torch.optim.AdamW([decay, plain], options.LearningRate, options.Beta1, options.Beta2, options.Epsilon, options.WeightDecay);
    }

    /// <summary>A trainer of <paramref name="model"/> on the token task <paramref name="task"/>, evaluated on <paramref name="evalTask"/> (default: the same).</summary>
    public static Trainer ForTask(TinyLm model, ISyntheticTask task, TrainOptions options, ISyntheticTask? evalTask = null) => new(new LanguageModelObjective(model, task, evalTask), options);

    /// <summary>The options.</summary>
    public TrainOptions Options { get; }
    /// <summary>The objective.</summary>
    public ITrainingObjective Objective => objective;
    /// <summary>The precision in use (Auto resolved by device).</summary>
    public TrainPrecision Precision { get; }
    /// <summary>Steps done.</summary>
    public int Step { get; private set; }
    /// <summary>One record per step done (the loaded ones first after a resume).</summary>
    public IReadOnlyList<TrainProgress> History => history;
    /// <summary>The module the passes run on: the model itself, or its bf16 copy in mixed precision (up to date after each step's copy).</summary>
    public nn.Module ComputeModule => mixed?.Compute ?? objective.Module;

    private ulong DataSeed(int step) => unchecked((ulong)Options.Seed * 0x9E3779B97F4A7C15UL + (ulong)step * 2 + 1);
    private ulong EvalSeed(int i) => unchecked((ulong)Options.Seed * 0x9E3779B97F4A7C15UL + (ulong)i * 2 + 0xA5A5_0000_0000UL * 2);   // even: never a training seed

    /// <summary>
    /// Trains until <see cref="TrainOptions.Steps"/> (or <paramref name="untilStep"/>, for a run to be continued later), the
    /// target metric or the time limit.
    /// </summary>
    public TrainResult Train(int? untilStep = null)
    {
        int last = Math.Min(untilStep ?? Options.Steps, Options.Steps);
        if (last < Step) throw new ArgumentException($"{nameof(untilStep)}: expected a step at or after the current step {Step}, got {untilStep}", nameof(untilStep));
        var watch = Stopwatch.StartNew();
        double startElapsed = elapsedSeconds;
        double? eval = history.LastOrDefault(h => h.EvalMetric is not null)?.EvalMetric;
        TimeSpan? timeToTarget = null;
        string reason = Step >= Options.Steps ? "all steps done" : $"stopped at step {last}";
        while (Step < last)
        {
            var stepWatch = Stopwatch.StartNew();
            var (loss, metric, norm, lr) = OneStep(Step);
            Sync();
            trainSeconds += stepWatch.Elapsed.TotalSeconds;
            tokens += (long)Options.BatchSize * objective.TokensPerSequence;
            Step++;
            bool evaluate = (Options.EvalEvery > 0 && Step % Options.EvalEvery == 0) || Step == Options.Steps;
            double? stepEval = evaluate ? Evaluate() : null;                                              // 5.
            if (stepEval is not null) eval = stepEval;
            elapsedSeconds = startElapsed + watch.Elapsed.TotalSeconds;
            var record = new TrainProgress
            {
                Step = Step, Steps = Options.Steps, Loss = loss, Metric = metric, EvalMetric = stepEval, LearningRate = lr, GradNorm = norm,
                TokensPerSecond = trainSeconds > 0 ? tokens / trainSeconds : 0, Elapsed = TimeSpan.FromSeconds(elapsedSeconds), MetricName = objective.MetricName,
            };
            history.Add(record);
            bool reached = stepEval is double e && Options.TargetMetric is double target && (objective.HigherIsBetter ? e >= target : e <= target);
            bool outOfTime = Options.TimeLimit is TimeSpan limit && watch.Elapsed >= limit;
            bool done = reached || outOfTime || Step == last;
            if (Options.OnProgress is not null && (Step % Options.ReportEvery == 0 || evaluate || done)) Options.OnProgress(record);
            if (Options.CheckpointDir is string dir && Options.CheckpointEvery > 0 && Step % Options.CheckpointEvery == 0) SaveCheckpoint(dir);
            if (reached) { reason = "target reached"; timeToTarget = TimeSpan.FromSeconds(elapsedSeconds); break; }
            if (outOfTime) { reason = "time limit"; break; }
            if (Step == Options.Steps) reason = "all steps done";
        }
        if (Options.CheckpointDir is string final) SaveCheckpoint(final);
        var lastRecord = history.LastOrDefault();
        return new TrainResult(Step, lastRecord?.Loss ?? double.NaN, eval, timeToTarget is not null, timeToTarget, TimeSpan.FromSeconds(elapsedSeconds),
            trainSeconds > 0 ? tokens / trainSeconds : 0, reason);
    }

    private (double Loss, double Metric, double Norm, double Lr) OneStep(int step)
    {
        using var scope = torch.NewDisposeScope();
        double lr = Options.LearningRateAt(step);                                                          // 1.
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
        using var generator = new Generator(DataSeed(step));
        optimizer.zero_grad();
        if (mixed is not null) { mixed.Compute.zero_grad(); mixed.Pull(); }                               // 2.
        var (loss, metric) = objective.Step(ComputeModule, Options.BatchSize, generator);                  // 3.
        double value = loss.item<float>();
        if (!double.IsFinite(value))
            throw new InvalidOperationException($"the training loss became {value} at step {step + 1} (learning rate {lr:g3}); lower {nameof(TrainOptions.LearningRate)} or set {nameof(TrainOptions.GradientClip)}");
        loss.backward();
        mixed?.PushGradients();
        double norm = ClipGradients(Options.GradientClip);                                                 // 4.
        optimizer.step();
        return (value, metric, norm, lr);
    }

    /// <summary>
    /// The global gradient norm ‖g‖ over every parameter that has a gradient (one that took no part in the loss, like
    /// an unused embedding, has none); when it exceeds <paramref name="maxNorm"/>, every gradient is scaled by maxNorm / ‖g‖
    /// (Pascanu et al., "On the difficulty of training recurrent neural networks", 2013, arXiv 1211.5063, algorithm 1).
    /// </summary>
    private double ClipGradients(double? maxNorm)
    {
        using var scope = torch.NewDisposeScope();
        var grads = parameters.Select(p => p.grad).OfType<Tensor>().Where(g => !g.IsInvalid).ToList();
        if (grads.Count == 0) return 0;
        var squares = torch.stack(grads.Select(g => g.to(ScalarType.Float32).pow(2).sum()));
        double norm = Math.Sqrt(squares.sum().item<float>());
        if (maxNorm is double c && norm > c)
            foreach (var g in grads) g.mul_(c / (norm + 1e-6));
        return norm;
    }

    /// <summary>The held-out metric: <see cref="TrainOptions.EvalSequences"/> sequences drawn from fixed seeds no training step uses.</summary>
    public double Evaluate()
    {
        if (mixed is not null) mixed.Pull();
        int batch = Math.Min(Options.EvalSequences, Math.Max(Options.BatchSize, 64));
        double sum = 0;
        int seen = 0;
        for (int i = 0; seen < Options.EvalSequences; i++)
        {
            int b = Math.Min(batch, Options.EvalSequences - seen);
            using var generator = new Generator(EvalSeed(i));
            sum += objective.Evaluate(ComputeModule, b, generator) * b;
            seen += b;
        }
        return sum / seen;
    }

    private void Sync()
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
    }

    private sealed record CheckpointState(int Step, long Seed, int Steps, string Objective, int Parameters, double TrainSeconds, double ElapsedSeconds, long Tokens, List<TrainProgress> History);

    /// <summary>Saves the model (TorchSharp's module format), the optimizer's state, the step and the history into <paramref name="dir"/>.</summary>
    public void SaveCheckpoint(string dir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dir);
        Directory.CreateDirectory(dir);
        objective.Module.save(Path.Combine(dir, "model.bin"));
        optimizer.save_state_dict(Path.Combine(dir, "optimizer.bin"));
        var state = new CheckpointState(Step, Options.Seed, Options.Steps, objective.Name, parameters.Length, trainSeconds, elapsedSeconds, tokens,
            history.Select(h => h with { }).ToList());
        var tmp = Path.Combine(dir, "trainer.json.tmp");
        File.WriteAllText(tmp, JsonSerializer.Serialize(state, JsonOptions));
        File.Move(tmp, Path.Combine(dir, "trainer.json"), overwrite: true);
    }

    /// <summary>
    /// Loads a checkpoint saved by <see cref="SaveCheckpoint"/> into this trainer (same objective and options): the
    /// model's weights, the optimizer's state, the step and the history; <see cref="Train"/> then continues from there.
    /// </summary>
    public void LoadCheckpoint(string dir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(dir);
        var json = Path.Combine(dir, "trainer.json");
        if (!File.Exists(json)) throw new ArgumentException($"{nameof(dir)}: no checkpoint in {dir} (trainer.json is missing)", nameof(dir));
        var state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(json), JsonOptions)
            ?? throw new ArgumentException($"{nameof(dir)}: {json} is empty", nameof(dir));
        if (state.Objective != objective.Name || state.Parameters != parameters.Length)
            throw new ArgumentException($"{nameof(dir)}: the checkpoint is of {state.Objective} with {state.Parameters} parameter tensors; this trainer trains {objective.Name} with {parameters.Length}", nameof(dir));
        if (state.Seed != Options.Seed || state.Steps != Options.Steps)
            throw new ArgumentException($"{nameof(dir)}: the checkpoint was trained with seed {state.Seed} over {state.Steps} steps; these options say seed {Options.Seed} over {Options.Steps} (a resumed run must keep both to continue identically)", nameof(dir));
        objective.Module.load(Path.Combine(dir, "model.bin"));
        optimizer.load_state_dict(Path.Combine(dir, "optimizer.bin"));
        (Step, trainSeconds, elapsedSeconds, tokens) = (state.Step, state.TrainSeconds, state.ElapsedSeconds, state.Tokens);
        history.Clear();
        history.AddRange(state.History);
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <inheritdoc/>
    public void Dispose()
    {
        optimizer.Dispose();
        mixed?.Dispose();
    }
}
