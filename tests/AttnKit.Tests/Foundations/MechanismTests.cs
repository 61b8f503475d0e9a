using AttnKit.Attention;
using AttnKit.Attention.Foundations;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Foundations;

[Collection("global RNG")]
public class MechanismTests
{
    [Fact]
    public void Hard_attention_averages_to_soft_attention_and_reinforce_to_the_exact_gradient()
    {
        torch.manual_seed(10);
        var weights = T.Randn(1, 2, 3, 5).softmax(-1);
        var values = T.Randn(1, 2, 5, 4);
        var idx = HardAttention.Sample(weights, 20000);
        var mean = HardAttention.Gather(values, idx).mean([3]);                              // (1, 2, 3, 4)
        T.Close(HardAttention.Soft(weights, values), mean, 0.03, "Monte Carlo mean of hard contexts");

        var logits = T.Randn(2, 6);
        var reward = T.Randn(2, 6);
        var samples = HardAttention.Sample(logits.softmax(-1).view(1, 1, 2, 6), 50000).view(2, 50000);
        var r = reward.gather(1, samples);
        T.Close(HardAttention.ExactGradient(logits, reward), HardAttention.ReinforceGradient(logits, samples, r), 0.05, "REINFORCE is unbiased");
        // the exact gradient by autograd
        var leaf = T.Leaf(logits);
        var expected = (leaf.softmax(-1) * reward).sum();
        var g = torch.autograd.grad([expected], [leaf])[0];
        T.Close(g, HardAttention.ExactGradient(logits, reward), 1e-5, "exact gradient");
    }

    [Fact]
    public void Hard_attention_rejects_bad_weights_and_indices()
    {
        Assert.Contains("non-negative rows with a positive sum", Assert.Throws<ArgumentException>(() => HardAttention.Sample(torch.zeros(1, 1, 1, 3, device: T.Dev), 2)).Message);
        var bad = torch.tensor(new long[] { 3 }, device: T.Dev).view(1, 1, 1, 1);
        Assert.Contains("expected indices in 0..2", Assert.Throws<ArgumentException>(() => HardAttention.Gather(T.Randn(1, 1, 3, 2), bad)).Message);
    }

    [Fact]
    public void The_pointer_network_masks_what_it_pointed_at_and_learns_to_sort_beyond_its_training_length()
    {
        torch.manual_seed(11);
        using var net = new PointerNetwork(1, 8, 8, T.Dev);
        var x = torch.rand(2, 4, 1, device: T.Dev);
        var previous = torch.tensor(new long[] { -1, 2, 0, -1, 1, 3 }, device: T.Dev).view(2, 3);
        var logp = net.LogProbabilities(x, previous, maskChosen: true);
        Assert.True(logp[0, 2, 2].item<float>() == float.NegativeInfinity && logp[0, 2, 0].item<float>() == float.NegativeInfinity);
        Assert.True(float.IsFinite(logp[0, 1, 0].item<float>()), "step 1 forbids only index 2");
        T.Close(torch.ones(2, 3, device: T.Dev), logp.exp().sum(-1), 1e-5, "a distribution over the inputs");
        Assert.Contains("expected indices in −1..3", Assert.Throws<ArgumentException>(() => net.LogProbabilities(x, previous + 2)).Message);

        var result = PointerSorting.Run(trainLength: 6, testLengths: [6, 12], steps: 250, batch: 64, hidden: 24, device: T.Dev);
        Assert.True(result.Losses[^1] < result.Losses[0] / 4, $"loss {result.Losses[0]} → {result.Losses[^1]}");
        Assert.True(result.PositionAccuracy[0] > 0.95 && result.PositionAccuracy[1] > 0.9, string.Join(", ", result.PositionAccuracy));
    }

    [Fact]
    public void Efficient_probing_folds_a_multi_head_probes_projections_into_its_queries()
    {
        torch.manual_seed(12);
        int d = 8, heads = 2, dh = 4;
        var (u, wq, wk, x) = (T.Randn(d), T.Randn(d, heads * dh), T.Randn(d, heads * dh), T.Randn(3, 5, d));
        var q = torch.matmul(u, wq).view(1, heads, 1, dh).expand(3, heads, 1, dh);          // (B, H, 1, Dh)
        var k = torch.matmul(x, wk).view(3, 5, heads, dh).transpose(1, 2);                  // (B, H, N, Dh)
        var mhca = torch.matmul(q, k.transpose(-2, -1)).squeeze(2);                         // (B, H, N)
        var folded = EfficientProbing.EquivalentQueries(u, wq, wk, heads);                  // (H, D)
        T.Close(mhca, torch.matmul(x, folded.t()).transpose(1, 2), 1e-5, "the same scores");
        using var r = EfficientProbing.Pool(x, folded, scale: 1.0);
        T.Close(mhca.softmax(-1), r.Weights.squeeze(2), 1e-5, "the same weights");
        // each query aggregates its own slice: query 0 the first half of the features
        T.Close(torch.matmul(r.Weights[.., 0], x[.., .., ..4]).squeeze(1), r.Pooled[.., ..4], 1e-5);
        Assert.Contains("expected a divisor of the width 8", Assert.Throws<ArgumentException>(() => new EfficientProbing(8, 3, T.Dev)).Message);
    }

    [Fact]
    public void Pooling_heads_ignore_padding_and_their_weights_are_distributions()
    {
        torch.manual_seed(13);
        var x = T.Randn(2, 6, 8);
        var allowed = torch.tensor(new[] { true, true, true, true, false, false, true, true, true, true, true, true }, device: T.Dev).view(2, 6);
        using var pma = new AttentionPooling(8, 2, 3, 5, T.Dev);
        using var cls = new ClassAttentionPooling(8, 2, T.Dev);
        using var lama = new LowRankFactorizedAttention(8, 4, 3, T.Dev);
        using var ep = new EfficientProbing(8, 2, T.Dev);
        using var layers = new MultiLayerTrainablePooling(6, 8, 2, 2, T.Dev);
        var results = new[] { pma.Forward(x, allowed), cls.Forward(x, allowed), lama.Forward(x, allowed), ep.Forward(x, allowed) };
        Assert.Equal([2L, 3, 5], results[0].Pooled.shape);
        Assert.Equal([2L, 8], results[1].Pooled.shape);
        Assert.Equal([2L, 3, 8], results[2].Pooled.shape);
        foreach (var r in results)
        {
            var w = r.Weights;
            T.Close(torch.ones(w.shape[..^1], device: T.Dev), w.sum(-1), 1e-5, "rows sum to 1");
            Assert.Equal(0f, w[0, .., .., ^2..].abs().sum().item<float>()); // the padding of example 0 gets nothing
        }
        // changing the padded tokens changes nothing
        var changed = x.clone();
        changed[0, 4..] = T.Randn(2, 8) * 10;
        T.Close(results[0].Pooled, pma.Forward(changed, allowed).Pooled, 1e-6, "PMA");
        T.Close(results[2].Pooled, lama.Forward(changed, allowed).Pooled, 1e-6, "LAMA");
        var pooledLayers = layers.Forward(x);
        Assert.Equal([2L, 8], pooledLayers.Pooled.shape);
        Assert.Equal([2L, 2, 2, 6], pooledLayers.Weights.shape);
        Assert.Equal(2L * 8 * 4 + 4 * 3, lama.ScoringParameters);
        Assert.Contains("tokens: expected width D of the head = 8", Assert.Throws<ArgumentException>(() => pma.Forward(T.Randn(2, 6, 7))).Message);
        Assert.Contains("allowed: expected a boolean tensor", Assert.Throws<ArgumentException>(() => cls.Forward(x, torch.ones(2, 6, device: T.Dev))).Message);
    }

    [Fact]
    public void With_one_source_the_four_combinations_are_the_same_cross_attention_and_masses_are_distributions()
    {
        var x = T.Randn(2, 3, 8);
        var s = T.Randn(2, 5, 8);
        var outputs = Enum.GetValues<SourceCombination>().Select(strategy =>
        {
            AttnKit.Core.Kit.Seed(14);                                                                   // the same weights for each (CPU and CUDA generators)
            using var layer = new MultiSourceCombination(8, 1, strategy, T.Dev);
            return layer.Forward(x, [s]).Output;
        }).ToList();
        foreach (var o in outputs.Skip(1)) T.Close(outputs[0], o, 1e-5);
        foreach (var strategy in new[] { SourceCombination.Flat, SourceCombination.Hierarchical })
        {
            using var layer = new MultiSourceCombination(8, 2, strategy, T.Dev);
            var (output, mass) = layer.Forward(x, [s, T.Randn(2, 4, 8)]);
            Assert.Equal([2L, 3, 8], output.shape);
            T.Close(torch.ones(2, 3, device: T.Dev), mass!.sum(-1), 1e-5, $"{strategy}: the mass over the sources sums to 1");
        }
        using var two = new MultiSourceCombination(8, 2, SourceCombination.Serial, T.Dev);
        Assert.Null(two.Forward(x, [s, s]).SourceMass);
        Assert.Contains("expected 2 sources, got 1", Assert.Throws<ArgumentException>(() => two.Forward(x, [s])).Message);
    }

    [Fact]
    public void A_heads_logits_have_rank_at_most_its_size_and_the_fixed_rule_sets_it_to_the_length()
    {
        torch.manual_seed(15);
        var ranks = LowRankBottleneck.LogitRank(T.Randn(1, 2, 16, 4), T.Randn(1, 2, 16, 4));
        Assert.Equal([4L, 4], ranks.cpu().data<long>().ToArray());
        Assert.Equal(16, LowRankBottleneck.FixedHeadSizeConfig(64, 8, 16).Dim);
        Assert.Equal(8, LowRankBottleneck.UsualHeadSize(64, 8));
        Assert.Equal(4L * 64 * 8 * 16, LowRankBottleneck.ProjectionParameters(64, 8, 16));
        Assert.Contains("expected a divisor of d_model = 64", Assert.Throws<ArgumentException>(() => LowRankBottleneck.UsualHeadSize(64, 7)).Message);
    }

    [Fact]
    public void Dcal_pairwise_is_attention_over_both_images_and_global_local_keeps_the_top_queries()
    {
        torch.manual_seed(16);
        var (q, k, v, k2, v2) = (T.Randn(1, 2, 4, 8), T.Randn(1, 2, 4, 8), T.Randn(1, 2, 4, 8), T.Randn(1, 2, 3, 8), T.Randn(1, 2, 3, 8));
        using var pw = DualCrossAttention.PairWise(q, k, v, k2, v2);
        var expected = ScaledDotProductAttention.Reference(q, torch.cat([k, k2], 2), torch.cat([v, v2], 2), new AttentionOptions { QueryOffset = 0 }).Output;
        T.Close(expected, pw.Output, 1e-6);
        Assert.True(pw.Weights![.., .., .., ..4].sum(-1).lt(1).all().item<bool>(), "the distractor takes some of the mass");

        var response = torch.tensor(new float[] { 0.1f, 0.9f, 0.3f, 0.7f }, device: T.Dev).view(1, 4);
        var (o, idx) = DualCrossAttention.GlobalLocal(q, k, v, response, 2);
        Assert.Equal([1L, 3], idx.cpu().data<long>().ToArray());
        var full = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { QueryOffset = 0 }).Output;
        T.Close(full.index_select(2, torch.tensor(new long[] { 1, 3 }, device: T.Dev)), o, 1e-6, "the kept queries attend as in full self-attention");

        var eye = torch.eye(4, device: T.Dev).expand(1, 2, 4, 4);
        T.Close(torch.eye(4, device: T.Dev).unsqueeze(0), DualCrossAttention.Rollout([eye, eye]), 1e-6, "identity attention rolls out to identity");
        var uniform = torch.full(1, 1, 4, 4, 0.25f, device: T.Dev);
        var rolled = DualCrossAttention.Rollout([uniform]);                                 // 0.5·uniform + 0.5·I
        Assert.Equal(0.625f, rolled[0, 0, 0].item<float>(), 5);
        Assert.Contains("expected at most the 4 tokens", Assert.Throws<ArgumentException>(() => DualCrossAttention.GlobalLocal(q, k, v, response, 5)).Message);
    }
}
