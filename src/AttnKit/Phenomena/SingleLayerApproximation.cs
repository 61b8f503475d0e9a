using AttnKit.Attention;
using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Phenomena;

/// <summary>Final training error of <see cref="SingleLayerApproximation"/> per MLP width, and of the baseline without attention.</summary>
/// <param name="Widths">The MLP widths tried.</param>
/// <param name="Error">Relative training error ‖F(X) − Y‖² / ‖Y‖² per width, with one attention layer.</param>
/// <param name="NoAttentionError">The same per width for the position-wise MLP alone (no token sees another).</param>
public sealed record SingleLayerApproximationResult(int[] Widths, double[] Error, double[] NoAttentionError);

/// <summary>
/// One attention layer plus a ReLU MLP as a universal approximator. Gumaan, "Universal Approximation Theorem for a
/// Single-Layer Transformer", 2025 (arXiv 2507.10581): one self-attention layer followed by a position-wise ReLU
/// feed-forward network approximates any continuous sequence-to-sequence map on a compact set, given enough MLP width.
/// The theorem is an existence result; this experiment trains such a model on a finite input set (every map on a finite
/// set is continuous) and measures how the reachable training error falls with the MLP's width, against the same MLP
/// without attention, which cannot fit a target where a token's output depends on the other tokens.
/// 1. inputs: S distinct sequences of n tokens from a vocabulary of V symbols, embedded as e(token) + p(position) (fixed random
///    vectors); targets: an independent Gaussian vector Y[s, i] per sequence and position (a random map);
/// 2. model: Z = X + MHA(X) (one self-attention layer), F = ReLU(Z W₁ + b₁) W₂ + b₂ (one MLP of width w);
/// 3. train every parameter full-batch with Adam on the mean squared error;
/// 4. report ‖F − Y‖² / ‖Y‖² per width, with and without the attention layer.
/// Everything runs on the CPU, single-threaded: the models are far too small for a GPU or for threads to pay.
/// </summary>
public static class SingleLayerApproximation
{
    /// <summary>Steps 1–4 for each width in <paramref name="widths"/>.</summary>
    public static SingleLayerApproximationResult Run(int[] widths, int sequences = 32, int tokens = 4, int vocab = 4, int dim = 16, int outDim = 2, int steps = 300, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(widths);
        foreach (var w in widths) Check.Positive(w, nameof(widths));
        Check.Positive(sequences, nameof(sequences));
        Check.Positive(tokens, nameof(tokens));
        Check.Positive(vocab, nameof(vocab));
        Check.Positive(dim, nameof(dim));
        Check.Positive(outDim, nameof(outDim));
        Check.Positive(steps, nameof(steps));
        if (dim % 2 != 0) throw new ArgumentException($"{nameof(dim)}: expected an even width (two heads), got {dim}", nameof(dim));
        return SingleThreaded.Run(() =>
        {
            using var scope = torch.NewDisposeScope();
            using var gen = new Generator((ulong)seed);
            if (Math.Pow(vocab, tokens) < sequences) throw new ArgumentException($"{nameof(sequences)}: expected at most vocab^tokens = {Math.Pow(vocab, tokens)} distinct sequences, got {sequences}", nameof(sequences));
            var code = torch.randperm((long)Math.Pow(vocab, tokens), generator: gen)[..sequences].unsqueeze(1); // 1. distinct sequences (S, 1)
            var place = torch.pow(torch.tensor((long)vocab), torch.arange(tokens));                        //    (n)
            var ids = code.div(place, rounding_mode: RoundingMode.floor).remainder(vocab);                  //    (S, n)
            var x = torch.randn([vocab, dim], generator: gen)[ids] + torch.randn([tokens, dim], generator: gen); // (S, n, d)
            var y = torch.randn([sequences, tokens, outDim], generator: gen);                               //    (S, n, out)
            var err = new double[widths.Length];
            var plain = new double[widths.Length];
            for (int i = 0; i < widths.Length; i++)
            {
                err[i] = Fit(x, y, widths[i], attention: true, steps, seed * 1000 + i);
                plain[i] = Fit(x, y, widths[i], attention: false, steps, seed * 1000 + i);
            }
            return new SingleLayerApproximationResult(widths, err, plain);
        });
    }

    private static double Fit(Tensor x, Tensor y, int width, bool attention, int steps, int seed)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(seed);
        int d = (int)x.shape[2];
        var mha = new MultiHeadAttention(new MultiHeadAttentionConfig(d, 2), torch.CPU, ScalarType.Float32);
        var w1 = nn.Linear(d, width);
        var w2 = nn.Linear(width, y.shape[2]);
        var ps = w1.parameters().Concat(w2.parameters()).ToList();
        if (attention) ps.AddRange(mha.parameters());
        using var opt = torch.optim.Adam(ps, 0.01);
        double norm = y.square().sum().item<float>();
        double loss = 0;
        for (int step = 0; step <= steps; step++)
        {
            using var inner = torch.NewDisposeScope();
            var z = attention ? x + mha.Forward(x).Output : x;                                          // 2. (S, n, d)
            var f = w2.forward(nn.functional.relu(w1.forward(z)));                                      //    (S, n, out)
            var sq = (f - y).square().sum();
            loss = sq.item<float>() / norm;                                                              // 4.
            if (step == steps) break;
            opt.zero_grad();
            (sq / y.shape[0]).backward();                                                                // 3.
            opt.step();
        }
        return loss;
    }
}
