using AttnKit.Attention.Foundations;
using AttnKit.Phenomena;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Foundations;

[Collection("global RNG")]
public class PhenomenaTests
{
    [Fact]
    public void Pure_attention_collapses_to_rank_one_and_skip_connections_prevent_it()
    {
        var r = RankCollapse.Run([CollapseVariant.PureAttention, CollapseVariant.WithSkip, CollapseVariant.SkipAndMlp], depth: 8, seeds: 2);
        var (pure, skip, block) = (r.Residual[0], r.Residual[1], r.Residual[2]);
        Assert.True(pure[0] > 0.9, "Gaussian tokens start far from rank one");
        Assert.True(pure[6] < 1e-10, $"pure attention after 6 blocks: {pure[6]:E2}");
        Assert.True(pure[2] / pure[1] > pure[3] / pure[2], "faster than exponential: each block shrinks the residual by more than the last");
        Assert.True(skip[8] > 0.05 && block[8] > 0.05, $"with skips after 8 blocks: {skip[8]:E2}, {block[8]:E2}");
        // the residual measure itself: a rank-one matrix has none
        Assert.Equal(0, RankCollapse.RelativeResidual(torch.ones(1, 5, 3, dtype: ScalarType.Float64) * torch.tensor(new[] { 1.0, 2, 3 })).item<double>(), 12);
    }

    [Fact]
    public void LayerNorm_is_a_projection_then_a_scaling_and_makes_every_key_selectable()
    {
        torch.manual_seed(20);
        var x = T.Randn(4, 6);
        T.Close(nn.functional.layer_norm(x, [6], eps: 1e-12), LayerNormGeometry.Normalize(x), 1e-5, "LayerNorm without affine");
        T.Close(torch.zeros(4, device: T.Dev), LayerNormGeometry.Project(x).sum(-1), 1e-5, "projected vectors are orthogonal to 1");
        var r = LayerNormGeometry.Run(keys: 24);
        Assert.All(r.SelectableNormalized, Assert.True);
        Assert.True(r.SelectableProjected.Count(b => b) < 24, "some projected keys sit inside the hull");
        Assert.True(r.UniformGapProjected < 1e-12 && r.UniformGapRaw > 0.1, $"{r.UniformGapRaw}, {r.UniformGapProjected}");
        // the hull test on a hand-made case: a square and its centre
        Assert.Equal([true, true, true, true, false], LayerNormGeometry.HullVertices(new double[,] { { 0, 0 }, { 1, 0 }, { 1, 1 }, { 0, 1 }, { 0.5, 0.5 } }));
    }

    [Fact]
    public void Gradient_descent_on_attention_converges_in_direction_to_the_max_margin_svm()
    {
        var r = MaxMarginSelection.Run(steps: 1500, recordEvery: 100);
        Assert.True(r.SelectsOptimal);
        Assert.True(r.Correlation[^1] > 0.99, $"final correlation {r.Correlation[^1]}");
        Assert.True(r.OptimalTokenWeight[^1] > 0.99);
        Assert.True(r.WeightNorm[^1] > 10 * r.WeightNorm[1], "the norm keeps growing");
        // the SVM's constraints hold with margin 1 and the solution satisfies them tightly somewhere
        var x = torch.tensor(new double[] { 1, 0, 0, 1, 0, 0 }, [1, 3, 2], ScalarType.Float64);
        var w = MaxMarginSelection.SolveSvm(x, torch.tensor(new double[] { 1, 0 }, [1, 2], ScalarType.Float64), [0])!;
        // constraints: (x0 − x1)ᵀ W z = W00 − W10 ≥ 1 and (x0 − x2)ᵀ W z = W00 ≥ 1; the least ‖W‖ has W00 = 1 and the rest 0
        Assert.Equal([1.0, 0, 0, 0], w.data<double>().ToArray().Select(v => Math.Round(v, 6)).ToArray());
    }

    [Fact]
    public void A_head_smaller_than_the_sequence_cannot_fit_a_full_rank_pattern()
    {
        var kl = HeadSizeBottleneck.FitRandomPattern(12, [1, 4, 12], steps: 300);
        Assert.True(kl[0] > kl[1] && kl[1] > kl[2], string.Join(", ", kl));
        Assert.True(kl[2] < 0.01 && kl[0] > 0.3, string.Join(", ", kl));
    }

    [Fact]
    public void Hard_attentions_gradient_estimate_gets_better_with_samples_and_a_baseline()
    {
        var (plain, based) = HardAttentionGradients.Run(sampleCounts: [1, 16, 256], trials: 100);
        Assert.True(plain[0] > plain[1] && plain[1] > plain[2], string.Join(", ", plain));
        Assert.True(based[1] < plain[1], $"baseline {based[1]} vs plain {plain[1]}");
    }

    [Fact]
    public void Attention_pooling_finds_the_marked_token_that_mean_pooling_averages_away()
    {
        var r = PoolingTask.Run(steps: 200, device: T.Dev);
        double mean = r.Accuracy[0];
        Assert.True(mean < 0.6, $"mean pooling {mean}");
        Assert.True(r.Accuracy[1] > mean + 0.25 && r.Accuracy[2] > mean + 0.25 && r.Accuracy[3] > mean + 0.25, string.Join(", ", r.Accuracy));
        Assert.Null(r.ExampleWeights[0]);
        Assert.Equal(r.MarkerPosition, Array.IndexOf(r.ExampleWeights[1]!, r.ExampleWeights[1]!.Max()));
    }
}
