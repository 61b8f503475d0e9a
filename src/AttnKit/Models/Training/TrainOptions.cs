using AttnKit.Core;

namespace AttnKit.Models.Training;

/// <summary>How the forward and backward passes compute.</summary>
public enum TrainPrecision
{
    /// <summary>bf16 mixed precision on CUDA, float32 on the CPU.</summary>
    Auto,
    /// <summary>Everything in float32.</summary>
    Float32,
    /// <summary>
    /// float32 master weights and optimizer state; the forward and backward passes run on a bfloat16 copy of the
    /// model, whose gradients are copied back to float32 before clipping and the update (see <see cref="MixedPrecision"/>).
    /// </summary>
    BFloat16Mixed,
}

/// <summary>One step's progress: what a terminal line or a chart shows.</summary>
public sealed record TrainProgress
{
    /// <summary>Steps done.</summary>
    public required int Step { get; init; }
    /// <summary>Steps planned.</summary>
    public required int Steps { get; init; }
    /// <summary>The training loss of this step.</summary>
    public required double Loss { get; init; }
    /// <summary>The task's metric on this step's training batch.</summary>
    public required double Metric { get; init; }
    /// <summary>The metric on held-out batches, when this step evaluated.</summary>
    public double? EvalMetric { get; init; }
    /// <summary>The learning rate used by this step.</summary>
    public required double LearningRate { get; init; }
    /// <summary>Gradient norm before clipping.</summary>
    public required double GradNorm { get; init; }
    /// <summary>Training tokens per second so far (input tokens; evaluation and checkpoints not counted).</summary>
    public required double TokensPerSecond { get; init; }
    /// <summary>Wall time of training so far (evaluation included).</summary>
    public required TimeSpan Elapsed { get; init; }
    /// <summary>The metric's name ("recall accuracy", "mse").</summary>
    public string MetricName { get; init; } = "accuracy";

    /// <summary>"step 120/2000  loss 0.5234  recall accuracy 0.871  eval 0.912  lr 1.00e-03  12345 tok/s  3.2 s".</summary>
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"step {Step}/{Steps}  loss {Loss:0.0000}  {MetricName} {Metric:0.000}{(EvalMetric is double e ? $"  eval {e:0.000}" : "")}  lr {LearningRate:0.00e+00}  {TokensPerSecond:0} tok/s  {Elapsed.TotalSeconds:0.0} s");
}

/// <summary>
/// The training recipe: AdamW, linear warm-up then cosine decay, gradient clipping, seeded data, held-out evaluation,
/// early stop at a target metric, checkpoints.
/// </summary>
public sealed record TrainOptions
{
    /// <summary>Optimizer steps at most.</summary>
    public int Steps { get; init; } = 1000;
    /// <summary>Sequences per step.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Peak learning rate (after warm-up).</summary>
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Learning rate at the end of the cosine, as a fraction of the peak.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;
    /// <summary>Steps of linear warm-up from 0.</summary>
    public int WarmupSteps { get; init; } = 50;
    /// <summary>AdamW's decoupled weight decay (applied to matrices, not to norms' gains and biases).</summary>
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>AdamW's β₁.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>AdamW's β₂.</summary>
    public double Beta2 { get; init; } = 0.98;
    /// <summary>AdamW's ε.</summary>
    public double Epsilon { get; init; } = 1e-8;
    /// <summary>Clip the global gradient norm to this (null: no clipping).</summary>
    public double? GradientClip { get; init; } = 1.0;
    /// <summary>Compute precision.</summary>
    public TrainPrecision Precision { get; init; } = TrainPrecision.Auto;
    /// <summary>Seed of the data: step s trains on a batch drawn from a generator seeded by (Seed, s), so a run is repeatable and a resumed run sees the same data.</summary>
    public long Seed { get; init; }
    /// <summary>Evaluate on held-out batches every this many steps (0: only at the end).</summary>
    public int EvalEvery { get; init; } = 50;
    /// <summary>Held-out sequences per evaluation.</summary>
    public int EvalSequences { get; init; } = 256;
    /// <summary>Stop when the held-out metric reaches this (≥ for accuracies, ≤ for errors); null: run every step.</summary>
    public double? TargetMetric { get; init; }
    /// <summary>Stop after this much wall time (checked after each step); null: no limit.</summary>
    public TimeSpan? TimeLimit { get; init; }
    /// <summary>Call <see cref="OnProgress"/> every this many steps (and at each evaluation and the last step).</summary>
    public int ReportEvery { get; init; } = 10;
    /// <summary>Called with the progress (a terminal prints <see cref="TrainProgress.ToString"/>; a notebook redraws its chart).</summary>
    public Action<TrainProgress>? OnProgress { get; init; }
    /// <summary>A folder to save checkpoints to (model, optimizer, step, history); null: none.</summary>
    public string? CheckpointDir { get; init; }
    /// <summary>Save a checkpoint every this many steps (0: only at the end) when <see cref="CheckpointDir"/> is set.</summary>
    public int CheckpointEvery { get; init; }

    /// <summary>Checks every field; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        Check.Positive(Steps, nameof(Steps));
        Check.Positive(BatchSize, nameof(BatchSize));
        Check.PositiveFinite(LearningRate, nameof(LearningRate));
        if (!(MinLearningRateRatio >= 0 && MinLearningRateRatio <= 1))
            throw new ArgumentException($"{nameof(MinLearningRateRatio)}: expected a fraction in [0, 1], got {MinLearningRateRatio}", nameof(MinLearningRateRatio));
        Check.NonNegative(WarmupSteps, nameof(WarmupSteps));
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay)) throw new ArgumentException($"{nameof(WeightDecay)}: expected a finite number ≥ 0, got {WeightDecay}", nameof(WeightDecay));
        if (!(Beta1 >= 0 && Beta1 < 1)) throw new ArgumentException($"{nameof(Beta1)}: expected a number in [0, 1), got {Beta1}", nameof(Beta1));
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentException($"{nameof(Beta2)}: expected a number in [0, 1), got {Beta2}", nameof(Beta2));
        Check.PositiveFinite(Epsilon, nameof(Epsilon));
        if (GradientClip is double c) Check.PositiveFinite(c, nameof(GradientClip));
        if (!Enum.IsDefined(Precision)) throw new ArgumentException($"{nameof(Precision)}: unknown precision {Precision}", nameof(Precision));
        Check.NonNegative(EvalEvery, nameof(EvalEvery));
        Check.Positive(EvalSequences, nameof(EvalSequences));
        if (TargetMetric is double t && !double.IsFinite(t)) throw new ArgumentException($"{nameof(TargetMetric)}: expected a finite number, got {t}", nameof(TargetMetric));
        if (TimeLimit is TimeSpan limit && limit <= TimeSpan.Zero) throw new ArgumentException($"{nameof(TimeLimit)}: expected a positive time, got {limit}", nameof(TimeLimit));
        Check.Positive(ReportEvery, nameof(ReportEvery));
        Check.NonNegative(CheckpointEvery, nameof(CheckpointEvery));
        if (CheckpointEvery > 0 && CheckpointDir is null)
            throw new ArgumentException($"{nameof(CheckpointEvery)}: checkpoints every {CheckpointEvery} steps need a {nameof(CheckpointDir)}", nameof(CheckpointEvery));
    }

    /// <summary>
    /// The learning rate of step <paramref name="step"/> (0-based): linear warm-up to the peak over
    /// <see cref="WarmupSteps"/>, then a half cosine down to <see cref="MinLearningRateRatio"/> × peak at the last step.
    /// Loshchilov and Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2016 (arXiv 1608.03983), eq. (5), one cycle.
    /// </summary>
    public double LearningRateAt(int step)
    {
        if (step < WarmupSteps) return LearningRate * (step + 1) / WarmupSteps;
        int decay = Math.Max(1, Steps - WarmupSteps - 1);
        double progress = Math.Clamp((double)(step - WarmupSteps) / decay, 0, 1);
        double min = LearningRate * MinLearningRateRatio;
        return min + 0.5 * (LearningRate - min) * (1 + Math.Cos(Math.PI * progress));
    }
}
