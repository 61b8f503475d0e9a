using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Phenomena;

/// <summary>The block a <see cref="RankCollapse"/> network stacks.</summary>
public enum CollapseVariant
{
    /// <summary>X ← SA(X): self-attention only.</summary>
    PureAttention,
    /// <summary>X ← X + SA(X).</summary>
    WithSkip,
    /// <summary>X ← MLP(SA(X)), no skip.</summary>
    WithMlp,
    /// <summary>X ← LayerNorm(SA(X)), no skip.</summary>
    WithLayerNorm,
    /// <summary>X ← X + SA(X), then X ← X + MLP(X): a transformer block without normalisation.</summary>
    SkipAndMlp,
}

/// <summary>Relative residual ‖res(X_l)‖ / ‖X_l‖ per variant and depth l = 0…L, averaged over seeds.</summary>
/// <param name="Variants">The variants, in the order of <paramref name="Residual"/>.</param>
/// <param name="Residual">Residual[v][l]: the mean relative residual after l blocks.</param>
public sealed record RankCollapseResult(CollapseVariant[] Variants, double[][] Residual);

/// <summary>
/// Rank collapse of pure attention. Dong, Cordonnier and Loukas, "Attention is Not All You Need: Pure Attention Loses
/// Rank Doubly Exponentially with Depth", 2021 (arXiv 2103.03404): stacking self-attention layers without skip
/// connections drives the token matrix to rank one (every token the same) doubly exponentially fast in depth; skip
/// connections stop it, and MLPs with a large Lipschitz constant slow it.
/// 1. res(X) = X − 1·x̄ᵀ, x̄ the mean token (the best rank-one "all tokens equal" approximation in Frobenius norm; the
///    paper measures it in a composite ℓ1,ℓ∞ norm);
/// 2. a random network of L blocks (multi-head self-attention with Gaussian weights, scores scaled by 1/√d_head),
///    arranged as each <see cref="CollapseVariant"/> says, run on Gaussian tokens in float64;
/// 3. record ‖res(X_l)‖_F / ‖X_l‖_F after each block, averaged over seeds.
/// </summary>
public static class RankCollapse
{
    /// <summary>Step 1: ‖X − 1·x̄ᵀ‖_F / ‖X‖_F for tokens X (…, N, D), per leading index.</summary>
    public static Tensor RelativeResidual(Tensor x)
    {
        Check.NotNull(x, nameof(x));
        if (x.dim() < 2) throw new ArgumentException($"{nameof(x)}: expected (…, N, D), got shape {Check.Shape(x)}", nameof(x));
        Check.FloatingPoint(x, nameof(x));
        using var scope = torch.NewDisposeScope();
        var res = x - x.mean([-2], keepdim: true);                                        // 1.
        return (res.square().sum([-2, -1]).sqrt() / x.square().sum([-2, -1]).sqrt().clamp_min(1e-300)).MoveToOuterDisposeScope();
    }

    /// <summary>Steps 2–3 for each variant: <paramref name="depth"/> blocks on <paramref name="tokens"/> tokens of width <paramref name="width"/>.</summary>
    public static RankCollapseResult Run(CollapseVariant[]? variants = null, int depth = 12, int tokens = 16, int width = 32, int heads = 2, int seeds = 4, int seed = 0)
    {
        variants ??= Enum.GetValues<CollapseVariant>();
        Check.Positive(depth, nameof(depth));
        Check.Positive(tokens, nameof(tokens));
        Check.Positive(width, nameof(width));
        Check.Positive(heads, nameof(heads));
        Check.Positive(seeds, nameof(seeds));
        if (width % heads != 0) throw new ArgumentException($"{nameof(heads)}: expected a divisor of the width {width}, got {heads}", nameof(heads));
        var result = new double[variants.Length][];
        for (int vi = 0; vi < variants.Length; vi++)
        {
            var sum = new double[depth + 1];
            for (int s = 0; s < seeds; s++)
            {
                using var scope = torch.NewDisposeScope();
                using var gen = new Generator((ulong)(seed * 1000 + s));
                var x = torch.randn([1, tokens, width], ScalarType.Float64, CPU, generator: gen);  // 2.
                sum[0] += RelativeResidual(x).item<double>();
                for (int l = 1; l <= depth; l++)
                {
                    x = Block(variants[vi], x, heads, gen);
                    sum[l] += RelativeResidual(x).item<double>();                        // 3.
                }
            }
            result[vi] = sum.Select(v => v / seeds).ToArray();
        }
        return new RankCollapseResult(variants, result);
    }

    private static Tensor Block(CollapseVariant variant, Tensor x, int heads, Generator gen)
    {
        long d = x.shape[2];
        Tensor Sa(Tensor input) => SelfAttention(input, heads, gen);
        Tensor Mlp(Tensor input)
        {
            var w1 = torch.randn([d, 4 * d], ScalarType.Float64, CPU, generator: gen) * Math.Sqrt(2.0 / d);
            var w2 = torch.randn([4 * d, d], ScalarType.Float64, CPU, generator: gen) * Math.Sqrt(1.0 / (4 * d));
            return torch.matmul(torch.matmul(input, w1).relu(), w2);
        }
        return variant switch
        {
            CollapseVariant.PureAttention => Sa(x),
            CollapseVariant.WithSkip => x + Sa(x),
            CollapseVariant.WithMlp => Mlp(Sa(x)),
            CollapseVariant.WithLayerNorm => nn.functional.layer_norm(Sa(x), [d]),
            CollapseVariant.SkipAndMlp => Skip(x + Sa(x), Mlp),
            _ => throw new ArgumentException($"variant: unknown {variant}", nameof(variant)),
        };
    }

    private static Tensor Skip(Tensor x, Func<Tensor, Tensor> f) => x + f(x);

    // Multi-head self-attention with Gaussian weights: heads of width d/H, output projection; (1, N, D) → (1, N, D).
    private static Tensor SelfAttention(Tensor x, int heads, Generator gen)
    {
        long n = x.shape[1], d = x.shape[2], dh = d / heads;
        Tensor W(long rows, long cols) => torch.randn([rows, cols], ScalarType.Float64, CPU, generator: gen) / Math.Sqrt(rows);
        var q = torch.matmul(x, W(d, d)).view(1, n, heads, dh).transpose(1, 2);         // (1, H, N, Dh)
        var k = torch.matmul(x, W(d, d)).view(1, n, heads, dh).transpose(1, 2);
        var v = torch.matmul(x, W(d, d)).view(1, n, heads, dh).transpose(1, 2);
        var p = (torch.matmul(q, k.transpose(-2, -1)) / Math.Sqrt(dh)).softmax(-1);     // (1, H, N, N)
        var o = torch.matmul(p, v).transpose(1, 2).reshape(1, n, d);                   // (1, N, D)
        return torch.matmul(o, W(d, d));
    }
}
