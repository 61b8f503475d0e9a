using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Phenomena;

/// <summary>What <see cref="MaxMarginSelection.Run"/> recorded.</summary>
/// <param name="Steps">The steps at which the series were recorded.</param>
/// <param name="Correlation">⟨W_t, W_mm⟩ / (‖W_t‖‖W_mm‖) at each recorded step.</param>
/// <param name="OptimalTokenWeight">The mean softmax weight on each example's optimal token at each recorded step.</param>
/// <param name="WeightNorm">‖W_t‖_F at each recorded step (it grows without bound: only the direction converges).</param>
/// <param name="SelectsOptimal">Whether, at the end, every example's largest weight is on its optimal token.</param>
/// <param name="Margin">The SVM's margin 1/‖W_mm‖_F.</param>
public sealed record MaxMarginResult(int[] Steps, double[] Correlation, double[] OptimalTokenWeight, double[] WeightNorm, bool SelectsOptimal, double Margin);

/// <summary>
/// Attention converges to a max-margin token selector. Tarzanagh, Li, Thrampoulidis and Oymak, "Transformers as Support
/// Vector Machines", 2023 (arXiv 2308.16898): for a one-layer attention model f(X) = vᵀ Xᵀ softmax(X W z) trained by
/// gradient descent on W, the norm of W grows without bound and its direction converges to the solution W_mm of a
/// hard-margin SVM that separates each example's optimal token from its other tokens (Att-SVM, eq. 3).
/// 1. data: n examples of T Gaussian tokens x_it ∈ R^d, a query token z_i, a label y_i = ±1, a fixed head v; the optimal
///    token of example i maximises the score γ_it = y_i·vᵀx_it;
/// 2. Att-SVM: W_mm = argmin ‖W‖_F subject to (x_i,opt − x_it)ᵀ W z_i ≥ 1 for every t ≠ opt, solved in its dual
///    (λ ≥ 0) by exact coordinate ascent, W = Σ λ_it (x_i,opt − x_it) z_iᵀ;
/// 3. normalised gradient descent on the logistic loss log(1 + e^(−y_i f(X_i))) from W = 0, W ← W − η·∇/‖∇‖ (as in the
///    paper's experiments), with the gradient written out as Σ_t s_t·vᵀ(x_t − x̄)·(x_t − x̄)z_iᵀ and x_t − x̄ = Σ_u s_u (x_t − x_u):
///    once the weights off the selected token fall below 1e-16, autograd's softmax backward loses them to rounding
///    (1 − s_opt rounds to 0) and the direction drifts; this form keeps them;
/// 4. record the correlation of W_t with W_mm and the attention on the optimal tokens.
/// </summary>
public static class MaxMarginSelection
{
    /// <summary>Step 2: the Att-SVM solution (d, d) for tokens (n, T, d), queries (n, d) and optimal indices, float64; null when the dual does not converge (not separable).</summary>
    public static Tensor? SolveSvm(Tensor tokens, Tensor queries, long[] optimal, int sweeps = 5000)
    {
        Check.Rank(tokens, 3, nameof(tokens), "(n, T, d)");
        Check.Rank(queries, 2, nameof(queries), "(n, d)");
        ArgumentNullException.ThrowIfNull(optimal);
        long n = tokens.shape[0], t = tokens.shape[1], d = tokens.shape[2];
        Check.Dim(queries, 0, n, nameof(queries), "examples n like the tokens");
        Check.Dim(queries, 1, d, nameof(queries), "width d like the tokens");
        if (optimal.Length != n || optimal.Any(o => o < 0 || o >= t))
            throw new ArgumentException($"{nameof(optimal)}: expected {n} indices in 0..{t - 1}", nameof(optimal));
        var x = tokens.to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
        var z = queries.to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
        var rows = new List<double[]>();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < t; j++)
            {
                if (j == optimal[i]) continue;
                var a = new double[d * d];                                              // vec((x_opt − x_j) zᵀ)
                for (int r = 0; r < d; r++)
                {
                    double diff = x[(i * t + optimal[i]) * d + r] - x[(i * t + j) * d + r];
                    for (int c = 0; c < d; c++) a[r * d + c] = diff * z[i * d + c];
                }
                rows.Add(a);
            }
        var lambda = new double[rows.Count];
        var w = new double[d * d];
        var norms = rows.Select(a => a.Sum(v => v * v)).ToArray();
        double worst = double.MaxValue;
        for (int sweep = 0; sweep < sweeps; sweep++)
        {
            for (int m = 0; m < rows.Count; m++)                                        // 2. coordinate ascent on the dual
            {
                if (norms[m] == 0) return null;
                double margin = 0;
                for (int e = 0; e < w.Length; e++) margin += rows[m][e] * w[e];
                double next = Math.Max(0, lambda[m] + (1 - margin) / norms[m]);
                double delta = next - lambda[m];
                if (delta == 0) continue;
                lambda[m] = next;
                for (int e = 0; e < w.Length; e++) w[e] += delta * rows[m][e];
            }
            var margins = rows.Select(a => a.Zip(w, (p, q) => p * q).Sum()).ToArray();
            worst = margins.Min();
            bool kkt = worst >= 1 - 1e-9 && margins.Zip(lambda, (mg, l) => l <= 0 || mg <= 1 + 1e-9).All(ok => ok); // feasible, and only active constraints carry weight
            if (kkt) break;
        }
        if (worst < 1 - 1e-6 || w.Any(v => !double.IsFinite(v))) return null;
        return torch.tensor(w, [d, d], ScalarType.Float64);
    }

    /// <summary>Steps 1–4: n examples of T tokens in R^d, <paramref name="steps"/> normalised GD steps of size <paramref name="learningRate"/>.</summary>
    public static MaxMarginResult Run(int examples = 6, int tokens = 4, int width = 8, int steps = 2000, double learningRate = 0.1, int recordEvery = 50, int seed = 0)
    {
        Check.Positive(examples, nameof(examples));
        Check.Positive(tokens, nameof(tokens));
        Check.Positive(width, nameof(width));
        Check.Positive(steps, nameof(steps));
        Check.Positive(recordEvery, nameof(recordEvery));
        Check.PositiveFinite(learningRate, nameof(learningRate));
        if (tokens < 2) throw new ArgumentException($"{nameof(tokens)}: expected at least 2 tokens to select among, got {tokens}", nameof(tokens));
        using var scope = torch.NewDisposeScope();
        using var gen = new Generator((ulong)seed);
        var x = torch.randn([examples, tokens, width], ScalarType.Float64, CPU, generator: gen);   // 1. (n, T, d)
        var z = torch.randn([examples, width], ScalarType.Float64, CPU, generator: gen);           //    (n, d)
        var y = torch.randint(0, 2, [examples], ScalarType.Float64, CPU, generator: gen) * 2 - 1;  //    (n)
        var v = torch.randn([width], ScalarType.Float64, CPU, generator: gen);
        v = v / v.norm();
        var gamma = torch.matmul(x, v) * y.unsqueeze(-1);                                          // (n, T)
        var optimal = gamma.argmax(-1).data<long>().ToArray();
        var wmm = SolveSvm(x, z, optimal) ?? throw new InvalidOperationException("the Att-SVM is not feasible for this draw; use another seed or a larger width");

        var w = torch.zeros([width, width], ScalarType.Float64, CPU);
        var diffs = x.unsqueeze(2) - x.unsqueeze(1);                                               // (n, T, T, d): x_t − x_u
        var onehot = nn.functional.one_hot(torch.tensor(optimal), tokens).to(ScalarType.Float64);  // (n, T)
        var (rec, corr, weight, norms) = (new List<int>(), new List<double>(), new List<double>(), new List<double>());
        for (int step = 0; step <= steps; step++)
        {
            using var inner = torch.NewDisposeScope();
            var s = torch.matmul(x, torch.matmul(w, z.unsqueeze(-1))).squeeze(-1).softmax(-1);    // (n, T): softmax(X W z)
            if (step % recordEvery == 0 || step == steps)
            {
                using var noGrad = torch.no_grad();
                rec.Add(step);
                double wn = w.norm().item<double>();
                norms.Add(wn);
                corr.Add(wn == 0 ? 0 : ((w * wmm).sum() / (wn * wmm.norm())).item<double>());      // 4.
                weight.Add((s * onehot).sum(-1).mean().item<double>());
            }
            if (step == steps) break;
            var f = torch.matmul(s.unsqueeze(1), x).squeeze(1).matmul(v);                          // (n): vᵀ Xᵀ softmax(X W z)
            var centred = (s.view(examples, 1, tokens, 1) * diffs).sum(2);                         // (n, T, d): x_t − x̄ = Σ_u s_u (x_t − x_u)


            var coeff = -y * torch.sigmoid(-y * f) / examples;                                      // 3. ∂loss/∂f_i of the mean logistic loss
            var df = torch.matmul((s * torch.matmul(centred, v)).unsqueeze(1), centred).squeeze(1); // (n, d): Σ_t s_t vᵀ(x_t − x̄)(x_t − x̄); ∂f_i/∂W = df_i z_iᵀ
            var g = torch.matmul((coeff.unsqueeze(-1) * df).t(), z);                               // (d, d)
            using (torch.no_grad()) w.sub_(g * (learningRate / g.norm().clamp_min(1e-300).item<double>()));
        }
        bool selects;
        using (torch.no_grad())
        {
            var s = torch.matmul(x, torch.matmul(w, z.unsqueeze(-1))).squeeze(-1);
            selects = s.argmax(-1).data<long>().ToArray().SequenceEqual(optimal);
        }
        return new MaxMarginResult(rec.ToArray(), corr.ToArray(), weight.ToArray(), norms.ToArray(), selects, 1 / wmm.norm().item<double>());
    }
}
