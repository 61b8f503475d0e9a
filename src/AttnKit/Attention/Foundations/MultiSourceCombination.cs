using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>The four ways of Libovický et al. (2018) for a decoder to attend to several encoders.</summary>
public enum SourceCombination
{
    /// <summary>One cross-attention sublayer per source, one after the other, each with its residual.</summary>
    Serial,
    /// <summary>One cross-attention per source with the same query; the contexts are summed.</summary>
    Parallel,
    /// <summary>One cross-attention over the concatenation of all sources' keys and values (one softmax).</summary>
    Flat,
    /// <summary>One cross-attention per source, then a second attention over the per-source contexts.</summary>
    Hierarchical,
}

/// <summary>
/// Encoder–decoder attention over several sources. Libovický, Helcl and Mareček, "Input Combination Strategies for
/// Multi-Source Transformer Decoder", 2018 (arXiv 1811.04716), section 3: with the decoder states x as queries and
/// source states s_1…s_S, and A_i(x) = softmax(x W_q,i (s_i W_k,i)ᵀ / √D) s_i W_v,i W_o,i the single-head cross-attention
/// of source i (its own projections):
/// 1. serial: x_1 = x + A_1(x), x_2 = x_1 + A_2(x_1), … (the sources in turn);
/// 2. parallel: x + Σ_i A_i(x);
/// 3. flat: x + softmax(x W_q,1 [s_1 W_k,1; …; s_S W_k,S]ᵀ / √D)·[s_1 W_v,1; …; s_S W_v,S]·W_o,1 (one distribution over
///    all source positions; its mass per source is returned);
/// 4. hierarchical: c_i = A_i(x), β_i = softmax_i(x W_q,1 · (c_i W_h,i) / √D), x + Σ_i β_i c_i (β is returned).
/// (The paper's layer normalisation around each sublayer is left out so the four compare on the same terms.)
/// With one source the four are the same cross-attention.
/// </summary>
public sealed class MultiSourceCombination : nn.Module
{
    private readonly ModuleList<Linear> wq, wk, wv, wo, wh;

    /// <summary>States of width <paramref name="modelDim"/> for <paramref name="sources"/> sources.</summary>
    public MultiSourceCombination(int modelDim, int sources, SourceCombination strategy, Device? device = null) : base(nameof(MultiSourceCombination))
    {
        Check.Positive(modelDim, nameof(modelDim));
        Check.Positive(sources, nameof(sources));
        if (!Enum.IsDefined(strategy)) throw new ArgumentException($"{nameof(strategy)}: expected Serial, Parallel, Flat or Hierarchical, got {(int)strategy}", nameof(strategy));
        var dev = device ?? Kit.Device;
        (ModelDim, Sources, Strategy) = (modelDim, sources, strategy);
        ModuleList<Linear> Make() => new(Enumerable.Range(0, sources).Select(_ => nn.Linear(modelDim, modelDim, hasBias: false, device: dev)).ToArray());
        (wq, wk, wv, wo, wh) = (Make(), Make(), Make(), Make(), Make());
        RegisterComponents();
    }

    /// <summary>Width D.</summary>
    public int ModelDim { get; }
    /// <summary>Number of sources.</summary>
    public int Sources { get; }
    /// <summary>How the sources are combined.</summary>
    public SourceCombination Strategy { get; }

    /// <summary>
    /// Decoder states x (B, N, D) over the sources (each (B, M_i, D)) → the new states (B, N, D) and, for flat and
    /// hierarchical, the attention mass each query gives each source (B, N, S); null for serial and parallel.
    /// </summary>
    public (Tensor Output, Tensor? SourceMass) Forward(Tensor x, IReadOnlyList<Tensor> sources)
    {
        Check.Rank(x, 3, nameof(x), "(B, N, D)");
        Check.FloatingPoint(x, nameof(x));
        Check.Dim(x, 2, ModelDim, nameof(x), "width D");
        ArgumentNullException.ThrowIfNull(sources);
        if (sources.Count != Sources) throw new ArgumentException($"{nameof(sources)}: expected {Sources} sources, got {sources.Count}", nameof(sources));
        var w = wq[0].weight!;
        if (x.dtype != w.dtype || x.device_type != w.device_type || x.device_index != w.device_index)
            throw new ArgumentException($"{nameof(x)}: expected {w.dtype} on {w.device} like the layer, got {x.dtype} on {x.device}", nameof(x));
        for (int i = 0; i < sources.Count; i++)
        {
            Check.Rank(sources[i], 3, $"sources[{i}]", "(B, M, D)");
            Check.SameDType(x, nameof(x), sources[i], $"sources[{i}]");
            Check.SameDevice(x, nameof(x), sources[i], $"sources[{i}]");
            Check.Dim(sources[i], 0, x.shape[0], $"sources[{i}]", "batch B like x");
            Check.Dim(sources[i], 2, ModelDim, $"sources[{i}]", "width D");
        }
        using var scope = torch.NewDisposeScope();
        double scale = 1.0 / Math.Sqrt(ModelDim);
        Tensor output;
        Tensor? mass = null;
        switch (Strategy)
        {
            case SourceCombination.Serial:
                output = x;
                for (int i = 0; i < Sources; i++) output = output + Attend(i, output, sources[i], scale); // 1.
                break;
            case SourceCombination.Parallel:
                output = x;
                for (int i = 0; i < Sources; i++) output = output + Attend(i, x, sources[i], scale);      // 2.
                break;
            case SourceCombination.Flat:
            {
                var q = wq[0].forward(x).unsqueeze(1);                                                    // (B, 1, N, D)
                var k = torch.cat(sources.Select((s, i) => wk[i].forward(s)).ToList(), 1).unsqueeze(1);   // (B, 1, ΣM, D)
                var v = torch.cat(sources.Select((s, i) => wv[i].forward(s)).ToList(), 1).unsqueeze(1);
                using var r = ScoreAttention.Attend(torch.matmul(q, k.transpose(-2, -1)) * scale, v);     // 3.
                output = x + wo[0].forward(r.Output.squeeze(1));
                var a = r.Weights!.squeeze(1);                                                            // (B, N, ΣM)
                mass = torch.stack(a.split(sources.Select(s => s.shape[1]).ToArray(), 2).Select(part => part.sum(-1)).ToList(), -1); // (B, N, S)
                break;
            }
            default:
            {
                var contexts = torch.stack(Enumerable.Range(0, Sources).Select(i => Attend(i, x, sources[i], scale)).ToList(), 2); // (B, N, S, D)
                var keys = torch.stack(Enumerable.Range(0, Sources).Select(i => wh[i].forward(contexts[.., .., i])).ToList(), 2); // (B, N, S, D)
                var q = wq[0].forward(x).unsqueeze(2);                                                    // (B, N, 1, D)
                var beta = ((q * keys).sum(-1) * scale).softmax(-1);                                      // 4. (B, N, S)
                output = x + (beta.unsqueeze(-1) * contexts).sum(2);
                mass = beta;
                break;
            }
        }
        return (output.MoveToOuterDisposeScope(), mass?.MoveToOuterDisposeScope());
    }

    // A_i(x): single-head cross-attention of source i with its own projections, (B, N, D).
    private Tensor Attend(int i, Tensor x, Tensor source, double scale)
    {
        var q = wq[i].forward(x).unsqueeze(1);                                          // (B, 1, N, D)
        var k = wk[i].forward(source).unsqueeze(1);                                     // (B, 1, M, D)
        var v = wv[i].forward(source).unsqueeze(1);
        using var r = ScoreAttention.Attend(torch.matmul(q, k.transpose(-2, -1)) * scale, v);
        return wo[i].forward(r.Output.squeeze(1));                                      // (B, N, D)
    }
}
