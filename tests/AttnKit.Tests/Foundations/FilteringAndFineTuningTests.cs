using AttnKit.Phenomena;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Foundations;

[Collection("global RNG")]
public class FilteringAndFineTuningTests
{
    private readonly ITestOutputHelper output;
    public FilteringAndFineTuningTests(ITestOutputHelper output) => this.output = output;

    // Brute force: the joint probability of every assignment of the internal nodes, summed, for a depth-2 tree.
    private static double[] BruteForcePosterior(HierarchicalFiltering g, long[] leaves, int k)
    {
        int q = g.Symbols;
        var m = g.Transitions.data<float>().ToArray();
        double M(int a, int b, int c) => m[(a * q + b) * q + c];
        var marg = g.LevelMarginals(k).data<float>().ToArray();                             // (2^k, q, q)
        var post = new double[q];
        for (int root = 0; root < q; root++)
        {
            double total = 0;
            if (k == 2)
            {
                total = 1;
                for (int j = 0; j < 4; j++) total *= marg[(j * q + root) * q + (int)leaves[j]];
                post[root] = total;
                continue;
            }
            for (int x0 = 0; x0 < q; x0++)
                for (int x1 = 0; x1 < q; x1++)
                {
                    // level-1 nodes x0, x1; leaves (l0, l1) under x0 and (l2, l3) under x1
                    double below = M(x0, (int)leaves[0], (int)leaves[1]) * M(x1, (int)leaves[2], (int)leaves[3]);
                    double above = k switch
                    {
                        0 => M(root, x0, x1),
                        1 => marg[(0 * q + root) * q + x0] * marg[(1 * q + root) * q + x1],
                        _ => throw new InvalidOperationException(),
                    };
                    total += above * below;
                }
            post[root] = total;
        }
        var s = post.Sum();
        return post.Select(p => p / s).ToArray();
    }

    [Fact]
    public void Belief_propagation_matches_brute_force_enumeration_at_every_filtering_level()
    {
        using var g = new HierarchicalFiltering(symbols: 3, depth: 2, seed: 5);
        using var gen = new Generator(9);
        for (int k = 0; k <= 2; k++)
        {
            var (_, leaves) = g.Sample(6, k, gen);
            var bp = g.RootPosterior(leaves, k);
            for (int i = 0; i < 6; i++)
            {
                var expected = BruteForcePosterior(g, leaves[i].data<long>().ToArray(), k);
                T.Close(torch.tensor(expected.Select(v => (float)v).ToArray()), bp[i], 1e-4, $"k={k} sample {i}");
            }
            T.NoLeak(() => [g.RootPosterior(leaves, k)]);
            T.NoLeak(() => { var (r, l) = g.Sample(3, k, gen); return [r, l, g.LevelMarginals(k)]; });
        }
    }

    [Fact]
    public void At_the_top_filtering_level_the_leaves_are_independent_given_the_root()
    {
        using var g = new HierarchicalFiltering(symbols: 3, depth: 2, seed: 5);
        using var gen = new Generator(11);
        var (roots, leaves) = g.Sample(60000, 2, gen);
        var sel = roots.eq(0);
        var l0 = leaves[sel][.., 0].eq(0).to_type(ScalarType.Float32);
        var l1 = leaves[sel][.., 1].eq(0).to_type(ScalarType.Float32);
        double cov = ((l0 * l1).mean() - l0.mean() * l1.mean()).item<float>();
        Assert.True(Math.Abs(cov) < 0.01, $"covariance of siblings given the root at k = depth: {cov:F4}");
    }

    [Fact]
    public void A_small_transformer_reaches_the_belief_propagation_optimum_at_each_filtering_level()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var g = new HierarchicalFiltering(symbols: 4, depth: 3, seed: 0);
        var r = g.Run([0, 3]);
        output.WriteLine($"BP {string.Join(", ", r.BeliefPropagation.Select(v => v.ToString("F3")))}; transformer {string.Join(", ", r.Transformer.Select(v => v.ToString("F3")))}; on full: tr {string.Join(", ", r.TransformerOnFull.Select(v => v.ToString("F3")))} bp {string.Join(", ", r.BeliefPropagationOnFull.Select(v => v.ToString("F3")))} in {sw.ElapsedMilliseconds} ms");
        for (int i = 0; i < r.Levels.Length; i++)
        {
            Assert.True(r.Transformer[i] > r.BeliefPropagation[i] - 0.05, $"k={r.Levels[i]}: transformer {r.Transformer[i]:F3} vs BP {r.BeliefPropagation[i]:F3}");
            Assert.True(r.Transformer[i] < r.BeliefPropagation[i] + 0.03, $"k={r.Levels[i]}: nothing beats exact inference by more than noise");
        }
    }

    [Fact]
    public void Hierarchical_filtering_rejects_bad_input()
    {
        using var g = new HierarchicalFiltering(symbols: 3, depth: 2);
        Assert.Throws<ArgumentException>(() => g.Sample(4, 3));
        Assert.Throws<ArgumentException>(() => g.LevelMarginals(-1));
        Assert.Throws<ArgumentException>(() => g.RootPosterior(torch.zeros(4, 5, ScalarType.Int64), 0));
        Assert.Throws<ArgumentException>(() => g.RootPosterior(torch.zeros(4, 4), 0));
        Assert.Throws<ArgumentException>(() => g.RootPosterior(torch.full(4, 4, 3L), 0));
        Assert.Throws<ArgumentException>(() => g.Run([0], dim: 7));
        Assert.Throws<ArgumentException>(() => new HierarchicalFiltering(symbols: 0));
    }

    [Fact]
    public void Fine_tuning_only_cross_attention_comes_close_to_fine_tuning_everything()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var r = CrossAttentionFineTuning.Run();
        output.WriteLine($"parent {r.ParentAccuracy:F3}, untuned {r.Untuned:F3}; " + string.Join("; ", r.Scopes.Select((s, i) => $"{s}: {r.Accuracy[i]:F3} ({r.TrainedParameters[i]} of {r.TotalParameters})")) + $" in {sw.ElapsedMilliseconds} ms");
        var (emb, cross, all) = (r.Accuracy[0], r.Accuracy[1], r.Accuracy[2]);
        Assert.True(r.ParentAccuracy > 0.95, $"pretraining learns the parent pair: {r.ParentAccuracy:F3}");
        Assert.True(r.Untuned < 0.4, $"the new vocabulary is unknown before fine-tuning: {r.Untuned:F3}");
        Assert.True(cross > all - 0.1, $"cross-attention {cross:F3} vs everything {all:F3}");
        Assert.True(cross > emb + 0.1, $"cross-attention {cross:F3} vs embeddings only {emb:F3}");
        Assert.True(r.TrainedParameters[1] < 0.5 * r.TrainedParameters[2], "cross-attention plus embeddings is a fraction of the model");
        Assert.Equal(r.TotalParameters, r.TrainedParameters[2]);
    }

    [Fact]
    public void Cross_attention_fine_tuning_rejects_bad_input()
    {
        Assert.Throws<ArgumentException>(() => CrossAttentionFineTuning.Run(dim: 7));
        Assert.Throws<ArgumentException>(() => CrossAttentionFineTuning.Run(pretrainSteps: 0));
        Assert.Throws<ArgumentException>(() => CrossAttentionFineTuning.Batch(4, torch.arange(5), torch.arange(6), true));
        Assert.Throws<ArgumentException>(() => CrossAttentionFineTuning.Batch(4, torch.arange(5).to_type(ScalarType.Float32), torch.arange(5), true));
    }
}
