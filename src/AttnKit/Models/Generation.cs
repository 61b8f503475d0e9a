using System.Diagnostics;
using AttnKit.Cache;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Models;

/// <summary>How <see cref="Generation.Generate"/> decodes.</summary>
public sealed record GenerationOptions
{
    /// <summary>Tokens to generate at most.</summary>
    public int MaxNewTokens { get; init; } = 16;
    /// <summary>Softmax temperature; 0 means greedy (argmax).</summary>
    public double Temperature { get; init; }
    /// <summary>Sample only among the k most likely tokens.</summary>
    public int? TopK { get; init; }
    /// <summary>Sample only from the smallest set of tokens whose probability reaches p (nucleus sampling, Holtzman et al. 2019, arXiv 1904.09751).</summary>
    public double? TopP { get; init; }
    /// <summary>A row stops after generating one of these; later positions repeat the stop token.</summary>
    public IReadOnlyCollection<long> StopTokens { get; init; } = [];
    /// <summary>Seed of the sampler (sampling is repeatable for a seed).</summary>
    public long Seed { get; init; } = 0;
    /// <summary>Makes each layer's cache; null: a growing cache (<see cref="DynamicCache"/>).</summary>
    public Func<int, LayerCache>? Cache { get; init; }
    /// <summary>Keep each decoding step's attention weights (per layer, (B, Hq, 1, L)).</summary>
    public bool RecordWeights { get; init; }
    /// <summary>Recompute the whole sequence at every step instead of using a cache (the reference cached decoding must equal).</summary>
    public bool NoCache { get; init; }

    /// <summary>Checks every field; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        Check.Positive(MaxNewTokens, nameof(MaxNewTokens));
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new ArgumentException($"{nameof(Temperature)}: expected 0 (greedy) or a positive finite number, got {Temperature}", nameof(Temperature));
        if (TopK is int k) Check.Positive(k, nameof(TopK));
        if (TopP is double p && !(p > 0 && p <= 1))
            throw new ArgumentException($"{nameof(TopP)}: expected a probability in (0, 1], got {p}", nameof(TopP));
        if (NoCache && Cache is not null)
            throw new ArgumentException($"{nameof(NoCache)}: recomputation uses no cache; do not give {nameof(Cache)} as well", nameof(NoCache));
    }
}

/// <summary>What <see cref="Generation.Generate"/> produced.</summary>
public sealed class GenerationResult : IDisposable
{
    /// <summary>Prompt and generated tokens (B, N + T), int64; after a stop token a row repeats it.</summary>
    public required Tensor Tokens { get; init; }
    /// <summary>Tokens generated per row, up to and including its stop token.</summary>
    public required int[] Generated { get; init; }
    /// <summary>When recorded: per decoding step, per layer, the new token's attention weights (B, Hq, 1, L) float32.</summary>
    public IReadOnlyList<IReadOnlyList<Tensor>> StepWeights { get; init; } = [];
    /// <summary>Wall time of the prefill (the prompt's forward pass) and of the decoding steps.</summary>
    public TimeSpan PrefillTime { get; init; }
    /// <summary>Wall time of the decoding steps.</summary>
    public TimeSpan DecodeTime { get; init; }
    /// <summary>Cache bytes at the end (0 without a cache).</summary>
    public long CacheBytes { get; init; }

    /// <inheritdoc/>
    public void Dispose()
    {
        Tokens.Dispose();
        foreach (var step in StepWeights) foreach (var w in step) w.Dispose();
    }
}

/// <summary>
/// Autoregressive generation: prefill the prompt into the cache, then one token at a time.
/// 1. prefill: logits of the whole prompt, filling each layer's cache;
/// 2. pick the next token from the last logits (greedy, or temperature, top-k and top-p sampling);
/// 3. decode: feed only the new token; the cache supplies every earlier key and value;
/// 4. stop when every row has produced a stop token or the budget is spent.
/// </summary>
public static class Generation
{
    /// <summary>Generates from <paramref name="prompt"/> (B, N) int64.</summary>
    public static GenerationResult Generate(TinyLm model, Tensor prompt, GenerationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new GenerationOptions();
        options.Validate();
        Check.Rank(prompt, 2, nameof(prompt), "(B, N)");
        Check.Positive(prompt.shape[1], "prompt tokens N");
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var gen = new Generator((ulong)options.Seed);   // TorchSharp's generators are CPU generators: Pick samples on the CPU
        using var cache = options.NoCache ? null : options.Cache is null ? model.NewCache() : model.NewCache(options.Cache);
        long[] ps = prompt.shape;
        long batch = ps[0], n = ps[1];
        int maxNew = options.MaxNewTokens;
        var device = model.Device;
        var stops = options.StopTokens.Count == 0 ? null : torch.tensor(options.StopTokens.ToArray(), ScalarType.Int64, device);
        var done = torch.zeros(batch, ScalarType.Bool, device);
        var doneHost = new bool[batch];                                                    // done as of the previous step, read once per step (only with stop tokens)
        var generated = new int[batch];
        var tokens = torch.empty(batch, n + maxNew, ScalarType.Int64, device);            // (B, N + T): written in place, no per-step concatenation
        long length = n;
        var stepWeights = new List<IReadOnlyList<Tensor>>();
        var watch = Stopwatch.StartNew();
        var forwardOptions = new ForwardOptions { RecordWeights = options.RecordWeights };
        var result = model.Run(prompt, cache, forwardOptions);                              // 1. (checks the prompt's dtype, device and ids)
        tokens.narrow(1, 0, n).copy_(prompt);
        Sync(device);
        var prefill = watch.Elapsed;
        watch.Restart();
        for (int t = 0; t < maxNew; t++)
        {
            using var stepScope = torch.NewDisposeScope();
            var next = Pick(result.Output.select(1, -1), options, gen);                    // 2. (B)
            result.Dispose();
            if (stops is not null) next = torch.where(done, tokens.select(1, length - 1), next); // finished rows repeat their stop token
            tokens.narrow(1, length, 1).copy_(next.unsqueeze(1));
            length++;
            for (int b = 0; b < batch; b++) if (!doneHost[b]) generated[b]++;
            bool allDone = false;
            if (stops is not null)
            {
                done = done.logical_or(torch.isin(next, stops)).MoveToOuterDisposeScope();
                doneHost = done.cpu().data<bool>().ToArray();                              //    the loop's one host sync, and only with stop tokens
                allDone = doneHost.All(d => d);
            }
            if (t == maxNew - 1 || allDone) { result = null!; break; }                     // 4.
            result = options.NoCache
                ? model.Run(tokens.narrow(1, 0, length), null, forwardOptions, checkIds: false)
                : model.Run(next.unsqueeze(1), cache, forwardOptions, checkIds: false);    // 3. ids come from the vocabulary's logits
            if (options.RecordWeights)
                stepWeights.Add(result.Weights.Select(w => w.narrow(2, w.shape[2] - 1, 1).MoveToOuterDisposeScope()).ToList());
            result.Output.MoveToOuterDisposeScope();
            foreach (var w in result.Weights) w.MoveToOuterDisposeScope();
        }
        Sync(device);
        var decode = watch.Elapsed;
        tokens = tokens.narrow(1, 0, length).MoveToOuterDisposeScope();
        foreach (var s in stepWeights) foreach (var w in s) w.MoveToOuterDisposeScope();
        return new GenerationResult
        {
            Tokens = tokens, Generated = generated, StepWeights = stepWeights,
            PrefillTime = prefill, DecodeTime = decode, CacheBytes = cache?.StorageBytes ?? 0,
        };
    }

    /// <summary>
    /// The next token per row from logits (B, V): argmax at temperature 0; otherwise softmax(logits / T) restricted to
    /// the top k and to the nucleus of mass p, sampled with <paramref name="generator"/> (a CPU generator; the draw
    /// happens on the CPU and the result returns to the logits' device).
    /// </summary>
    public static Tensor Pick(Tensor logits, GenerationOptions options, Generator? generator = null)
    {
        Check.Rank(logits, 2, nameof(logits), "(B, V)");
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        using var scope = torch.NewDisposeScope();
        var l = logits.to(ScalarType.Float32);
        if (options.Temperature == 0) return l.argmax(-1).MoveToOuterDisposeScope();
        l = l / options.Temperature;
        if (options.TopK is int k && k < l.shape[1])
        {
            var kth = l.topk(k, -1).values.narrow(1, k - 1, 1);                            // (B, 1)
            l = l.masked_fill(l.lt(kth), double.NegativeInfinity);
        }
        if (options.TopP is double p && p < 1)
        {
            var (sorted, order) = l.sort(-1, descending: true);
            var probs = sorted.softmax(-1);
            var before = probs.cumsum(-1) - probs;                                         // mass of the tokens ranked above
            var drop = before.ge(p);                                                       // the first token is always kept
            var dropInOrder = torch.zeros_like(drop).scatter(1, order, drop);
            l = l.masked_fill(dropInOrder, double.NegativeInfinity);
        }
        // sampled on the CPU, where TorchSharp's generators live, so that a seed gives the same tokens on every device
        var distribution = l.softmax(-1).cpu();
        return torch.multinomial(distribution, 1, false, generator).squeeze(1).to(logits.device).MoveToOuterDisposeScope();
    }

    private static void Sync(Device device)
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
    }
}
