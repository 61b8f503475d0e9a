using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Phenomena;

/// <summary>
/// The low-rank bottleneck, measured. Bhojanapalli et al., "Low-Rank Bottleneck in Multi-head Attention Models", 2020
/// (arXiv 2002.07028), section 3: a head of size d_h can only produce logits of rank ≤ d_h, so fitting a target
/// attention pattern over n tokens fails below d_h = n and succeeds at d_h = n.
/// 1. target: P = softmax(3·G), G an n × n Gaussian matrix (full-rank logits, every row a different distribution);
/// 2. for each head size r, fit logits L = A·Bᵀ with A, B (n, r): with a full-rank input X (n ≥ n tokens wide),
///    X W_q and X W_k can be any n × r matrices, so this is exactly what one head of size r can express;
/// 3. minimise the mean row KL(P ‖ softmax(L)) with Adam; report the final KL per r.
/// </summary>
public static class HeadSizeBottleneck
{
    /// <summary>Steps 1–3: the final mean KL divergence for each head size.</summary>
    public static double[] FitRandomPattern(int tokens, int[] headSizes, int steps = 400, int seed = 0)
    {
        Check.Positive(tokens, nameof(tokens));
        Check.Positive(steps, nameof(steps));
        ArgumentNullException.ThrowIfNull(headSizes);
        foreach (var r in headSizes) Check.Positive(r, nameof(headSizes));
        var result = new double[headSizes.Length];
        using var gen = new Generator((ulong)seed);
        using var target = (torch.randn([tokens, tokens], generator: gen) * 3).softmax(-1); // 1. (n, n)
        using var logTarget = target.log();
        for (int i = 0; i < headSizes.Length; i++)
        {
            using var scope = torch.NewDisposeScope();
            var a = new TorchSharp.Modules.Parameter(torch.randn([tokens, headSizes[i]], generator: gen) * 0.1); // 2. (n, r)
            var b = new TorchSharp.Modules.Parameter(torch.randn([tokens, headSizes[i]], generator: gen) * 0.1);
            using var opt = torch.optim.Adam([a, b], 0.05);
            double kl = 0;
            for (int step = 0; step <= steps; step++)
            {
                using var inner = torch.NewDisposeScope();
                var logp = torch.matmul(a, b.t()).log_softmax(-1);
                var loss = (target * (logTarget - logp)).sum(-1).mean();                 // 3.
                kl = loss.item<float>();
                if (step == steps) break;
                opt.zero_grad();
                loss.backward();
                opt.step();
            }
            result[i] = kl;
        }
        return result;
    }
}
