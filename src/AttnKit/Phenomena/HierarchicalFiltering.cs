using AttnKit.Attention;
using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Phenomena;

/// <summary>Root-classification accuracies of <see cref="HierarchicalFiltering.Run"/>, per filtering level.</summary>
/// <param name="Levels">The filtering levels k (0 = the full tree).</param>
/// <param name="BeliefPropagation">Accuracy of exact inference (BP with the generating model) on k-filtered test data.</param>
/// <param name="Transformer">Accuracy of the transformer trained on k-filtered data, on k-filtered test data.</param>
/// <param name="TransformerOnFull">The same transformer on unfiltered (k = 0) test data.</param>
/// <param name="BeliefPropagationOnFull">BP that assumes the k-filtered model, on unfiltered test data.</param>
public sealed record HierarchicalFilteringResult(int[] Levels, double[] BeliefPropagation, double[] Transformer, double[] TransformerOnFull, double[] BeliefPropagationOnFull);

/// <summary>
/// Hierarchical filtering. Garnier-Brun, Mézard, Moscato and Saglietti, "How transformers learn structured data:
/// insights from hierarchical filtering", 2024 (arXiv 2408.15138): sequences are the leaves of a random tree grammar;
/// filtering at level k keeps the tree's correlations below level k and cuts those above it, so the range of the
/// correlations is a knob. Exact inference is belief propagation (BP) on the tree, and a transformer trained on root
/// classification reaches BP's accuracy; trained on filtered data, it uses only the correlations that data contains.
/// This is a reduction of the paper's setting (tiny tree, vocabulary and model, root classification only, no attention
/// maps or probing), and levels count from the root here: k = 0 is the full tree, k = depth makes the leaves
/// independent given the root.
/// 1. grammar: q symbols, a transition tensor M[a, b, c] = P(children b, c | parent a) (random, one softmax per a);
/// 2. sampling at level k: draw the root uniformly; draw each node of level k independently from its marginal given
///    the root (products of the left and right child marginals along its path); expand levels k…depth with M;
/// 3. BP: upward messages m(x) = Σ_bc M[x, b, c] m_left(b) m_right(c) from the leaves to level k, then
///    P(root = a | leaves) ∝ Π_j Σ_x P_k,j(x | a) m_j(x); predict its argmax;
/// 4. a two-layer transformer encoder (token + position embeddings, mean pooling, linear readout) trained on fresh
///    k-filtered samples to classify the root;
/// 5. report both accuracies per k, on k-filtered and on unfiltered test data.
/// Everything runs on the CPU, single-threaded: the model is far too small for a GPU or for threads to pay.
/// </summary>
public sealed class HierarchicalFiltering : IDisposable
{
    /// <summary>Symbols q.</summary>
    public int Symbols { get; }
    /// <summary>Tree depth (2^depth leaves).</summary>
    public int Depth { get; }
    /// <summary>Step 1: M (q, q, q).</summary>
    public Tensor Transitions { get; }

    /// <summary>Step 1: a random grammar; <paramref name="sharpness"/> scales the logits (larger: closer to deterministic rules).</summary>
    public HierarchicalFiltering(int symbols = 4, int depth = 3, double sharpness = 2.0, int seed = 0)
    {
        Check.Positive(symbols, nameof(symbols));
        Check.Positive(depth, nameof(depth));
        Check.PositiveFinite(sharpness, nameof(sharpness));
        (Symbols, Depth) = (symbols, depth);
        using var gen = new Generator((ulong)seed);
        using var logits = torch.randn([symbols, symbols * symbols], generator: gen) * sharpness;
        Transitions = logits.softmax(-1).view(symbols, symbols, symbols).DetachFromDisposeScope();   // 1. (q, q, q)
    }

    /// <summary>P_k,j(x | root) for every node j of level k: (2^k, q, q), rows the root.</summary>
    public Tensor LevelMarginals(int k)
    {
        CheckLevel(k);
        using var scope = torch.NewDisposeScope();
        var left = Transitions.sum(2);                                                      // (q, q): parent → left child
        var right = Transitions.sum(1);                                                     // (q, q): parent → right child
        var result = new List<Tensor>();
        for (int j = 0; j < 1 << k; j++)
        {
            var p = torch.eye(Symbols);
            for (int bit = k - 1; bit >= 0; bit--) p = torch.matmul(p, ((j >> bit) & 1) == 0 ? left : right); // 2. path from the root
            result.Add(p);
        }
        return torch.stack(result).MoveToOuterDisposeScope();                               // (2^k, q, q)
    }

    /// <summary>Step 2: <paramref name="batch"/> samples at filtering level k: roots (B) and leaves (B, 2^depth).</summary>
    public (Tensor Roots, Tensor Leaves) Sample(long batch, int k, Generator? generator = null)
    {
        Check.Positive(batch, nameof(batch));
        CheckLevel(k);
        using var scope = torch.NewDisposeScope();
        long q = Symbols;
        var roots = torch.randint(q, [batch], generator: generator);                       // 2. (B)
        var marg = LevelMarginals(k);                                                       //    (2^k, q, q)
        var probs = marg.permute(1, 0, 2)[roots].reshape(-1, q);                            //    (B·2^k, q)
        var nodes = torch.multinomial(probs, 1, generator: generator).view(batch, 1L << k); //    (B, 2^k)
        var flat = Transitions.view(q, q * q);
        for (int level = k; level < Depth; level++)
        {
            long width = nodes.shape[1];
            var pair = torch.multinomial(flat[nodes.reshape(-1)], 1, generator: generator).view(batch, width); // (B, w)
            nodes = torch.stack([pair.div(q, rounding_mode: RoundingMode.floor), pair.remainder(q)], 2).view(batch, 2 * width); // (B, 2w)
        }
        return (roots.MoveToOuterDisposeScope(), nodes.MoveToOuterDisposeScope());
    }

    /// <summary>Step 3: exact root posteriors (B, q) given leaves (B, 2^depth), assuming the k-filtered model.</summary>
    public Tensor RootPosterior(Tensor leaves, int k)
    {
        Check.Rank(leaves, 2, nameof(leaves), "(B, 2^depth)");
        Check.Dim(leaves, 1, 1L << Depth, nameof(leaves), "2^depth leaves");
        if (leaves.dtype != ScalarType.Int64) throw new ArgumentException($"{nameof(leaves)}: expected Int64 symbol ids, got {leaves.dtype}", nameof(leaves));
        if (leaves.device_type != DeviceType.CPU) throw new ArgumentException($"{nameof(leaves)}: expected a CPU tensor like the grammar, got one on {leaves.device}", nameof(leaves));
        if (leaves.numel() > 0)
        {
            using var lo = leaves.min();
            using var hi = leaves.max();
            if (lo.item<long>() < 0 || hi.item<long>() >= Symbols)
                throw new ArgumentException($"{nameof(leaves)}: expected symbols in 0…{Symbols - 1}, got {lo.item<long>()}…{hi.item<long>()}", nameof(leaves));
        }
        CheckLevel(k);
        using var scope = torch.NewDisposeScope();
        var m = nn.functional.one_hot(leaves, Symbols).to_type(ScalarType.Float64);         // (B, 2^depth, q)
        var t = Transitions.to_type(ScalarType.Float64);
        for (int level = Depth; level > k; level--)
        {
            var l = m[.., TensorIndex.Slice(0, null, 2)];                                   // (B, w/2, q)
            var r = m[.., TensorIndex.Slice(1, null, 2)];
            m = torch.einsum("xbc,nwb,nwc->nwx", t, l, r);                                  // 3. (B, w/2, q)
            m = m / m.sum(-1, keepdim: true).clamp_min(1e-300);                              // rescale per node: a factor that does not depend on the root, so the posterior is unchanged
        }
        var marg = LevelMarginals(k).to_type(ScalarType.Float64);                           // (2^k, q_root, q)
        var perNode = torch.einsum("jax,njx->nja", marg, m);                                 // (B, 2^k, q_root)
        var logPost = perNode.clamp_min(1e-300).log().sum(1);                                // (B, q_root)
        return logPost.softmax(-1).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Steps 4–5 for each filtering level in <paramref name="levels"/>.</summary>
    public HierarchicalFilteringResult Run(int[] levels, int steps = 600, int batch = 128, int dim = 32, int testSize = 4096, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(levels);
        foreach (var k in levels) CheckLevel(k);
        Check.Positive(steps, nameof(steps));
        Check.Positive(batch, nameof(batch));
        Check.Positive(dim, nameof(dim));
        Check.Positive(testSize, nameof(testSize));
        if (dim % 2 != 0) throw new ArgumentException($"{nameof(dim)}: expected an even width (two heads), got {dim}", nameof(dim));
        return SingleThreaded.Run(() =>
        {
            using var scope = torch.NewDisposeScope();
            using var gen = new Generator((ulong)(seed + 1));
            var full = Sample(testSize, 0, gen);
            var (bp, tr, trFull, bpFull) = (new double[levels.Length], new double[levels.Length], new double[levels.Length], new double[levels.Length]);
            for (int i = 0; i < levels.Length; i++)
            {
                using var inner = torch.NewDisposeScope();
                int k = levels[i];
                var test = Sample(testSize, k, gen);
                bp[i] = Acc(RootPosterior(test.Leaves, k), test.Roots);                         // 3.
                bpFull[i] = Acc(RootPosterior(full.Leaves, k), full.Roots);
                torch.manual_seed(seed * 100 + i);
                var net = new Encoder(Symbols, 1 << Depth, dim);
                using var opt = torch.optim.Adam(net.parameters(), 0.005);
                for (int step = 0; step < steps; step++)
                {
                    using var s = torch.NewDisposeScope();
                    var (roots, leaves) = Sample(batch, k, gen);
                    var loss = nn.functional.cross_entropy(net.Logits(leaves), roots);          // 4.
                    opt.zero_grad();
                    loss.backward();
                    opt.step();
                }
                using (torch.no_grad())
                {
                    tr[i] = Acc(net.Logits(test.Leaves), test.Roots);                           // 5.
                    trFull[i] = Acc(net.Logits(full.Leaves), full.Roots);
                }
            }
            return new HierarchicalFilteringResult(levels, bp, tr, trFull, bpFull);
        });
    }

    /// <summary>Frees the transition tensor.</summary>
    public void Dispose() => Transitions.Dispose();

    private static double Acc(Tensor scores, Tensor roots) => scores.argmax(-1).eq(roots).to_type(ScalarType.Float32).mean().item<float>();

    private void CheckLevel(int k)
    {
        if (k < 0 || k > Depth) throw new ArgumentException($"k: expected a filtering level in 0…{Depth}, got {k}", nameof(k));
    }

    // Step 4's model: embeddings → 2 × (x + MHA(LN x), x + MLP(LN x)) → mean over leaves → linear (B, q).
    private sealed class Encoder : nn.Module
    {
        private readonly Embedding tokens;
        private readonly Parameter positions;
        private readonly ModuleList<MultiHeadAttention> attn;
        private readonly ModuleList<Sequential> mlp;
        private readonly ModuleList<LayerNorm> norms;
        private readonly Linear readout;

        public Encoder(int symbols, int length, int dim) : base(nameof(Encoder))
        {
            tokens = nn.Embedding(symbols, dim);
            positions = new Parameter(torch.randn(length, dim) * 0.5);
            attn = nn.ModuleList(new MultiHeadAttention(new MultiHeadAttentionConfig(dim, 2), torch.CPU, ScalarType.Float32), new MultiHeadAttention(new MultiHeadAttentionConfig(dim, 2), torch.CPU, ScalarType.Float32));
            mlp = nn.ModuleList(Enumerable.Range(0, 2).Select(_ => nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))).ToArray());
            norms = nn.ModuleList(Enumerable.Range(0, 4).Select(_ => nn.LayerNorm(dim)).ToArray());
            readout = nn.Linear(dim, symbols);
            RegisterComponents();
        }

        public Tensor Logits(Tensor leaves)
        {
            var x = tokens.forward(leaves) + positions;                                     // (B, L, d)
            for (int l = 0; l < 2; l++)
            {
                x = x + attn[l].Forward(norms[2 * l].forward(x)).Output;
                x = x + mlp[l].forward(norms[2 * l + 1].forward(x));
            }
            return readout.forward(x.mean([1]));                                            // (B, q)
        }
    }
}
