using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Models;

/// <summary>
/// Scores that say what each head of a trained model does, from its recorded attention weights (B, H, N, N) per
/// layer (<see cref="ForwardOptions.RecordWeights"/>). Each returns a (layers, heads) table:
/// <list type="bullet">
/// <item><see cref="PreviousToken"/>: the weight each query puts on the token just before it (a previous-token head scores near 1);</item>
/// <item><see cref="PrefixMatching"/>: the weight a query puts on the tokens that follow earlier occurrences of its own
/// token. Olsson et al., "In-context Learning and Induction Heads", 2022 (arXiv 2209.11895), section 2: an induction
/// head scores near 1, and so does the recall head of associative recall, which is the same circuit;</item>
/// <item><see cref="SinkShare"/>: the weight queries put on the first token. Xiao et al., "Efficient Streaming
/// Language Models with Attention Sinks", 2023 (arXiv 2309.17453), section 3.1: trained models often park attention
/// on the first token; compare with <see cref="UniformSinkShare"/>, what uniform causal attention would put there.</item>
/// </list>
/// </summary>
public static class HeadProbes
{
    /// <summary>Mean weight on key i − 1 over queries i ≥ 1: (layers, heads).</summary>
    public static double[,] PreviousToken(IReadOnlyList<Tensor> weights) => PerHead(weights, w =>
    {
        if (w.shape[2] < 2) throw new ArgumentException($"{nameof(weights)}: expected at least 2 queries, got shape {Check.Shape(w)}", nameof(weights));
        return w.diagonal(offset: -1, dim1: 2, dim2: 3).mean([0, 2]);                                     // (B, H, N−1) → (H)
    });

    /// <summary>
    /// Mean weight on the keys j whose previous token equals the query's token (inputs[j−1] = inputs[i], j ≤ i), over
    /// the queries that have such a key (and, when <paramref name="queries"/> (B, N) bool is given, are marked there): (layers, heads).
    /// </summary>
    public static double[,] PrefixMatching(IReadOnlyList<Tensor> weights, Tensor inputs, Tensor? queries = null)
    {
        Check.Rank(inputs, 2, nameof(inputs), "(B, N)");
        using var scope = torch.NewDisposeScope();
        long n = inputs.shape[1];
        var previous = torch.cat([torch.full(new[] { inputs.shape[0], 1L }, -1L, ScalarType.Int64, inputs.device), inputs.narrow(1, 0, n - 1)], 1); // (B, N): token before j
        var match = inputs.unsqueeze(2).eq(previous.unsqueeze(1));                                        // (B, Nq, Nk): inputs[j−1] = inputs[i]
        match = match.logical_and(torch.ones(n, n, ScalarType.Bool, inputs.device).tril());              //   only keys j ≤ i
        var has = match.any(-1);                                                                          // (B, Nq)
        if (queries is not null) has = has.logical_and(queries.to(inputs.device));
        long count = has.sum().item<long>();
        if (count == 0) throw new ArgumentException($"{nameof(inputs)}: no query has an earlier occurrence of its token to match", nameof(inputs));
        var m = match.unsqueeze(1).to(ScalarType.Float32);                                                // (B, 1, Nq, Nk)
        var sel = has.unsqueeze(1).to(ScalarType.Float32);                                                // (B, 1, Nq)
        return PerHead(weights, w => ((w.to(ScalarType.Float32) * m).sum(-1) * sel).sum([0, 2]) / count, inputs.shape);
    }

    /// <summary>Mean weight on key 0 over queries 1 … N−1 (query 0 can only look at itself): (layers, heads).</summary>
    public static double[,] SinkShare(IReadOnlyList<Tensor> weights) => PerHead(weights, SinkShareOfLayer);

    /// <summary>Mean weight on key 0 over queries 1 … N−1 for one layer's weights (B, H, N, N): (H).</summary>
    public static Tensor SinkShareOfLayer(Tensor weights)
    {
        Check.Rank(weights, 4, nameof(weights), "(B, H, N, N)");
        if (weights.shape[2] < 2) throw new ArgumentException($"{nameof(weights)}: expected at least 2 queries, got shape {Check.Shape(weights)}", nameof(weights));
        using var scope = torch.NewDisposeScope();
        return weights.narrow(2, 1, weights.shape[2] - 1).select(3, 0).mean([0, 2]).MoveToOuterDisposeScope();   // (H)
    }

    /// <summary>What uniform causal attention puts on the first token, averaged over queries 1 … N−1: mean of 1/(i+1).</summary>
    public static double UniformSinkShare(long tokens) => tokens < 2 ? 1 : Enumerable.Range(1, (int)tokens - 1).Average(i => 1.0 / (i + 1));

    private static double[,] PerHead(IReadOnlyList<Tensor> weights, Func<Tensor, Tensor> score, long[]? inputShape = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Count == 0) throw new ArgumentException($"{nameof(weights)}: expected one tensor per layer, got none (run with RecordWeights)", nameof(weights));
        var first = weights[0];
        Check.Rank(first, 4, "weights[0]", "(B, H, N, N)");
        long heads = first.shape[1];
        var table = new double[weights.Count, heads];
        for (int l = 0; l < weights.Count; l++)
        {
            var w = weights[l];
            Check.Rank(w, 4, $"weights[{l}]", "(B, H, N, N)");
            if (w.shape[2] != w.shape[3]) throw new ArgumentException($"weights[{l}]: expected self-attention weights (B, H, N, N), got {Check.Shape(w)}", nameof(weights));
            if (w.shape[1] != heads) throw new ArgumentException($"weights[{l}]: expected {heads} heads like layer 0, got {w.shape[1]}", nameof(weights));
            if (inputShape is not null && (w.shape[0] != inputShape[0] || w.shape[2] != inputShape[1]))
                throw new ArgumentException($"weights[{l}]: expected batch and tokens ({inputShape[0]}, {inputShape[1]}) like the inputs, got {Check.Shape(w)}", nameof(weights));
            using var scope = torch.NewDisposeScope();
            var values = score(w.detach()).to(ScalarType.Float64).cpu().data<double>().ToArray();
            for (int h = 0; h < heads; h++) table[l, h] = values[h];
        }
        return table;
    }
}
