using AttnKit.Attention;
using AttnKit.Attention.Masks;
using AttnKit.Attention.ScoreMods;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Attention;

public class ScoreModifierTests
{
    [Fact]
    public void Alibi_slopes_follow_the_paper()
    {
        // 8 heads: 1/2, 1/4, ..., 1/256 (paper, section 3)
        Assert.Equal(Enumerable.Range(1, 8).Select(i => Math.Pow(0.5, i)), Alibi.Slopes(8), new DoubleTolerance(1e-12));
        // 16 heads: 2^-0.5, 2^-1, ..., 2^-8
        Assert.Equal(Enumerable.Range(1, 16).Select(i => Math.Pow(2, -0.5 * i)), Alibi.Slopes(16), new DoubleTolerance(1e-12));
        // 6 heads: the 4-head slopes (2^-2, 2^-4, 2^-6, 2^-8), then every other 8-head slope (2^-1, 2^-3)
        Assert.Equal([0.25, 1.0 / 16, 1.0 / 64, 1.0 / 256, 0.5, 0.125], Alibi.Slopes(6), new DoubleTolerance(1e-12));
    }

    [Fact]
    public void Alibi_subtracts_slope_times_distance()
    {
        var scores = torch.zeros(1, 2, 3, 3, device: T.Dev);
        var r = Alibi.Modifier(2).Apply(scores);    // slopes 1/16, 1/256
        var expected = new float[] { 0, -1, -2, -1, 0, -1, -2, -1, 0 };
        Assert.Equal(expected.Select(x => x / 16f), T.Floats(r[0, 0]), new FloatTolerance(1e-7f));
        Assert.Equal(expected.Select(x => x / 256f), T.Floats(r[0, 1]), new FloatTolerance(1e-7f));
    }

    [Fact]
    public void Alibi_with_causal_mask_equals_an_additive_bias()
    {
        torch.manual_seed(1);
        var (q, k, v) = (T.Randn(1, 4, 5, 8), T.Randn(1, 4, 5, 8), T.Randn(1, 4, 5, 8));
        var slopes = Alibi.Slopes(4);
        var bias = torch.zeros(1, 4, 5, 5, device: T.Dev);
        for (int h = 0; h < 4; h++) for (int i = 0; i < 5; i++) for (int j = 0; j < 5; j++) bias[0, h, i, j] = torch.tensor(-(float)(slopes[h] * Math.Abs(i - j)));
        using var viaMod = ScaledDotProductAttention.Reference(q, k, v, new() { Mask = Masks.Causal, ScoreMod = Alibi.Modifier(4) });
        var viaBias = ScaledDotProductAttention.Fused(q, k, v, new() { Mask = Masks.Causal, Bias = bias });
        T.Close(viaBias, viaMod.Output, 1e-5);
    }

    [Fact]
    public void Softcap_bounds_scores_and_keeps_small_ones()
    {
        var s = torch.tensor(new float[] { -1000, -1, 0, 0.01f, 1000 }, device: T.Dev).view(1, 1, 1, 5);
        var r = T.Floats(SoftCap.Modifier(30).Apply(s));
        Assert.All(r, x => Assert.InRange(x, -30f, 30f));
        Assert.Equal(30f * MathF.Tanh(-1f / 30), r[1], 1e-6f);
        Assert.Equal(0.01f, r[3], 1e-5f);
        Assert.Equal(30f, r[4], 1e-4f);
    }

    [Fact]
    public void Then_composes_in_order()
    {
        var s = torch.full(1, 1, 1, 2, 100f, device: T.Dev);
        var plus = new ScoreModifier("plus 10", (x, b, h, q, k) => x + 10);
        Assert.Equal(20f, T.Floats(SoftCap.Modifier(10).Then(plus).Apply(s))[0], 1e-3f); // cap 100 to ≈ 10, then add 10
        Assert.Equal(10f, T.Floats(plus.Then(SoftCap.Modifier(10)).Apply(s))[0], 1e-3f); // add to 110, then cap to ≈ 10
    }

    [Fact]
    public void Relative_bias_buckets_by_hand()
    {
        // causal, 8 buckets, max distance 32: distances 0..3 exact; then bucket = 4 + floor(log(d/4) / log(32/4) · 4):
        // d/4 in [1, 8^¼) → 4 (d 4..6), [8^¼, 8^½) → 5 (d 7..11), [8^½, 8^¾) → 6 (d 12..19), beyond → 7 (clamped); future keys → 0
        using var rpb = new RelativePositionBias(heads: 2, buckets: 8, maxDistance: 32, bidirectional: false, device: T.Dev);
        var rel = torch.tensor(new long[] { 0, -1, -3, -4, -6, -7, -11, -12, -19, -20, -31, -1000, 5 }, device: T.Dev);
        var got = rpb.Bucket(rel).cpu().data<long>().ToArray();
        Assert.Equal([0L, 1, 3, 4, 4, 5, 5, 6, 6, 7, 7, 7, 0], got);
        using var bi = new RelativePositionBias(heads: 1, buckets: 8, maxDistance: 16, bidirectional: true, device: T.Dev);
        var b2 = bi.Bucket(torch.tensor(new long[] { 0, 1, -1, 2, -2, 100, -100 }, device: T.Dev)).cpu().data<long>().ToArray();
        // 4 buckets per side, 2 exact: keys before: 0, 1, then log; keys after: 4 + same
        Assert.Equal([0L, 5, 1, 6, 2, 7, 3], b2);
    }

    [Fact]
    public void Relative_bias_is_learned_through_attention()
    {
        using var rpb = new RelativePositionBias(heads: 2, buckets: 8, maxDistance: 16, device: T.Dev);
        torch.manual_seed(3);
        var (q, k, v) = (T.Randn(1, 2, 6, 4), T.Randn(1, 2, 6, 4), T.Randn(1, 2, 6, 4));
        using var r = ScaledDotProductAttention.Reference(q, k, v, new() { Mask = Masks.Causal, ScoreMod = rpb.Modifier });
        using var plain = ScaledDotProductAttention.Reference(q, k, v, AttentionOptions.Causal);
        T.Close(plain.Output, r.Output, 1e-6, "a zero table is a no-op");
        (r.Output * T.Randn(1, 2, 6, 4)).sum().backward();
        Assert.NotNull(rpb.Table.grad);
        Assert.True(rpb.Table.grad!.abs().sum().item<float>() > 0);
        Assert.Equal(0f, rpb.Table.grad![6..].abs().sum().item<float>()); // distances ≤ 5 never reach buckets 6, 7
    }
}

internal sealed class DoubleTolerance(double tol) : IEqualityComparer<double>
{
    public bool Equals(double x, double y) => Math.Abs(x - y) <= tol;
    public int GetHashCode(double obj) => 0;
}
