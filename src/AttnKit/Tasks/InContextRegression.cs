using AttnKit.Attention.Masks;
using AttnKit.Core;
using AttnKit.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Tasks;

/// <summary>One batch of in-context regression: vectors in, scalars to predict at the query positions.</summary>
public sealed class RegressionBatch : IDisposable
{
    /// <summary>Tokens (B, N, d+1): [x; y] for the in-context examples, [x; 0] for the queries.</summary>
    public required Tensor Inputs { get; init; }
    /// <summary>y at every position (B, N) float32 (the queries' are what the model must predict).</summary>
    public required Tensor Targets { get; init; }
    /// <summary>(B, N) bool: true at the query positions (the scored ones).</summary>
    public required Tensor Scored { get; init; }

    /// <inheritdoc/>
    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
        Scored.Dispose();
    }
}

/// <summary>
/// In-context linear regression, for the comparison of causal and prefix language models. Garg et al., "What Can
/// Transformers Learn In-Context? A Case Study of Simple Function Classes", 2022 (arXiv 2208.01066), sets the task;
/// Ding et al., "CausalLM is not optimal for in-context learning", 2023 (arXiv 2308.06912), section 3, puts each
/// example in one token z = [x; y] and shows that when the examples may attend to each other (prefix-LM) the
/// model can converge to the least-squares solution, while causal attention (each example sees only earlier ones)
/// behaves like online gradient descent and stays worse.
///
/// 1. draw a task w ~ N(0, I_d) per row, k example inputs and m query inputs x ~ N(0, I_d);
/// 2. y = w·x / √d (+ noise σ·ε), so that y has unit variance and a zero predictor scores 1;
/// 3. tokens: [x_j; y_j] for the k examples, then [x_q; 0] for the m queries (N = k + m);
/// 4. mask: examples attend causally (<see cref="CausalMask"/>) or all to all (<see cref="PrefixMask"/>); each
///    query attends to the examples only (Ding et al., fig. 5: a query holds no label, and queries do not see each other);
/// 5. the metric is the mean squared error of the queries' predictions (lower is better); <see cref="LeastSquaresError"/> is the optimum's.
/// </summary>
public sealed class InContextRegression
{
    /// <summary>Input dimension d.</summary>
    public int Dim { get; }
    /// <summary>In-context examples per sequence k.</summary>
    public int Examples { get; }
    /// <summary>Queries per sequence m.</summary>
    public int Queries { get; }
    /// <summary>Noise standard deviation σ on y.</summary>
    public double Noise { get; }
    /// <summary>Tokens per sequence N = k + m.</summary>
    public int SequenceLength => Examples + Queries;
    /// <summary>Width of a token: d + 1.</summary>
    public int TokenDim => Dim + 1;
    /// <summary>"icl-regression(d=4, k=16, m=8)".</summary>
    public string Name => $"icl-regression(d={Dim}, k={Examples}, m={Queries})";

    /// <summary>Regression in <paramref name="dim"/> dimensions from <paramref name="examples"/> examples, with <paramref name="queries"/> queries per sequence.</summary>
    public InContextRegression(int dim = 4, int examples = 16, int queries = 8, double noise = 0)
    {
        Check.Positive(dim, nameof(dim));
        Check.Positive(examples, nameof(examples));
        Check.Positive(queries, nameof(queries));
        if (!(noise >= 0) || double.IsInfinity(noise)) throw new ArgumentException($"{nameof(noise)}: expected a finite σ ≥ 0, got {noise}", nameof(noise));
        (Dim, Examples, Queries, Noise) = (dim, examples, queries, noise);
    }

    /// <summary>Queries see the examples only.</summary>
    private AttentionMask ExamplesOnly => new($"examples({Examples})", (b, h, q, k) => k.lt(Examples));

    /// <summary>Causal LM: example j sees examples 0 … j; each query sees every example. (4.)</summary>
    public AttentionMask CausalMask => Masks.Causal & ExamplesOnly;

    /// <summary>Prefix LM: the examples are a bidirectional prefix; each query sees every example. (4.)</summary>
    public AttentionMask PrefixMask => Masks.PrefixLM(Examples) & ExamplesOnly;

    /// <summary>A batch of <paramref name="batch"/> sequences drawn with <paramref name="generator"/>.</summary>
    public RegressionBatch Sample(int batch, Generator generator, Device? device = null)
    {
        var target = SyntheticTasks.CheckSample(batch, generator, device);
        var dev = torch.CPU;                                                                                  // drawn on the CPU generator, then moved
        using var scope = torch.NewDisposeScope();
        long b = batch, n = SequenceLength, d = Dim;
        var w = torch.randn(new[] { b, d, 1L }, generator: generator, device: dev);                          // 1. (B, d, 1)
        var x = torch.randn(new[] { b, n, d }, generator: generator, device: dev);                           //    (B, N, d)
        var y = torch.matmul(x, w).squeeze(-1) / Math.Sqrt(d);                                               // 2. (B, N)
        if (Noise > 0) y = y + Noise * torch.randn(new[] { b, n }, generator: generator, device: dev);
        var scored = torch.arange(n, ScalarType.Int64, dev).ge(Examples).unsqueeze(0).expand(b, n).contiguous(); // (B, N)
        var shown = y.masked_fill(scored, 0);                                                                // 3. queries carry no label
        var inputs = torch.cat([x, shown.unsqueeze(-1)], -1);                                                //    (B, N, d+1)
        return new RegressionBatch { Inputs = inputs.to(target).MoveToOuterDisposeScope(), Targets = y.to(target).MoveToOuterDisposeScope(), Scored = scored.to(target).MoveToOuterDisposeScope() };
    }

    /// <summary>A batch from a fresh generator seeded with <paramref name="seed"/>.</summary>
    public RegressionBatch Sample(int batch, long seed, Device? device = null)
    {
        var dev = device ?? Kit.Device;
        using var generator = new Generator((ulong)seed);
        return Sample(batch, generator, dev);
    }

    /// <summary>Mean squared error of predictions (B, N) at the query positions. (5.)</summary>
    public double Score(Tensor predictions, RegressionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        Check.Rank(predictions, 2, nameof(predictions), "(B, N)");
        Check.Dim(predictions, 0, batch.Targets.shape[0], nameof(predictions), "batch B");
        Check.Dim(predictions, 1, SequenceLength, nameof(predictions), "tokens N = k + m");
        using var scope = torch.NewDisposeScope();
        return Error(predictions, batch).item<float>();
    }

    /// <summary>The mean squared error at the query positions, as a scalar tensor (with its graph, for training).</summary>
    public Tensor Error(Tensor predictions, RegressionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = torch.NewDisposeScope();
        var err = (predictions.to(ScalarType.Float32) - batch.Targets).pow(2);
        return err.masked_select(batch.Scored).mean().MoveToOuterDisposeScope();
    }

    /// <summary>The error of the least-squares fit to each row's examples, at its queries: the optimum a prefix-LM can reach (noiseless, k ≥ d: 0).</summary>
    public double LeastSquaresError(RegressionBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = torch.NewDisposeScope();
        var x = batch.Inputs.narrow(2, 0, Dim);                                                              // (B, N, d)
        var xs = x.narrow(1, 0, Examples);                                                                   // (B, k, d)
        var ys = batch.Targets.narrow(1, 0, Examples).unsqueeze(-1);                                         // (B, k, 1)
        var wHat = torch.matmul(torch.linalg.pinv(xs.to(ScalarType.Float64)), ys.to(ScalarType.Float64));   // (B, d, 1)
        var predicted = torch.matmul(x.to(ScalarType.Float64), wHat).squeeze(-1).to(ScalarType.Float32);    // (B, N)
        return Error(predictions: predicted, batch).item<float>();
    }
}

/// <summary>
/// A <see cref="TinyLm"/> that reads vectors: a linear read-in (d+1 → model width), the decoder through
/// <see cref="TinyLm.ForwardEmbeddings"/> with a given mask, and a linear read-out to one number per position.
/// </summary>
public sealed class InContextRegressor : nn.Module
{
    private readonly Linear read_in, read_out;
    private readonly TinyLm body;

    /// <summary>A regressor for <paramref name="task"/> around a decoder of shape <paramref name="config"/> (its vocabulary is unused).</summary>
    public InContextRegressor(InContextRegression task, TinyLmConfig config, Device? device = null, ScalarType? dtype = null) : base(nameof(InContextRegressor))
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(config);
        var (dev, dt) = (device ?? Kit.Device, dtype ?? Kit.DType);
        Task = task;
        body = new TinyLm(config with { VocabSize = 1 }, dev, dt);
        read_in = nn.Linear(task.TokenDim, config.ModelDim, true, dev, dt);
        read_out = nn.Linear(config.ModelDim, 1, true, dev, dt);
        RegisterComponents();
    }

    /// <summary>The task this regressor reads.</summary>
    public InContextRegression Task { get; }

    /// <summary>The decoder.</summary>
    public TinyLm Body => body;

    /// <summary>Predictions (B, N) for tokens (B, N, d+1) under <paramref name="mask"/>, with the attention weights when asked.</summary>
    public ForwardResult Run(Tensor inputs, AttentionMask mask, bool recordWeights = false)
    {
        Check.Rank(inputs, 3, nameof(inputs), "(B, N, d+1)");
        Check.Dim(inputs, 2, Task.TokenDim, nameof(inputs), "the token width d + 1");
        ArgumentNullException.ThrowIfNull(mask);
        using var scope = torch.NewDisposeScope();
        var h = read_in.forward(inputs.to(body.DType));                                                         // (B, N, model width)
        var result = body.ForwardEmbeddings(h, null, new ForwardOptions { Mask = mask, RecordWeights = recordWeights });
        var y = read_out.forward(result.Output).squeeze(-1);                                                 // (B, N)
        foreach (var t in result.Weights) t.MoveToOuterDisposeScope();
        return new ForwardResult { Output = y.MoveToOuterDisposeScope(), Weights = result.Weights };
    }
}
