using AttnKit.Phenomena;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Foundations;

[Collection("global RNG")]
public class RankAndApproximationTests
{
    private readonly ITestOutputHelper output;
    public RankAndApproximationTests(ITestOutputHelper output) => this.output = output;

    [Fact]
    public void One_full_rank_head_beats_as_many_rank_one_heads_as_dimensions_on_nearest_neighbour()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var r = RankSeparation.Run([(1, 8), (8, 1), (32, 1)]);
        output.WriteLine(string.Join("; ", r.Select(p => $"H={p.Heads} r={p.Rank}: {p.Error:F3}")) + $" in {sw.ElapsedMilliseconds} ms");
        Assert.True(r[0].Error < 0.5 * r[1].Error, $"full rank {r[0].Error:F3} vs 8 rank-1 heads {r[1].Error:F3}");
        Assert.True(r[0].Error < r[2].Error, $"full rank {r[0].Error:F3} vs 32 rank-1 heads {r[2].Error:F3}");
    }

    [Fact]
    public void The_nearest_neighbour_target_is_the_key_closest_to_the_query_and_a_scaled_identity_head_represents_it()
    {
        using var gen = new Generator(3);
        var (y, x, t) = RankSeparation.Batch(512, 8, 16, gen);
        var best = torch.matmul(x, y.unsqueeze(-1)).squeeze(-1).max(-1).values;           // (B)
        T.Close(best, (t * y).sum(-1), 1e-6, "the target's score is the maximum");
        var a = (torch.eye(16) * 200).unsqueeze(0);                                         // one head, W = 200·I, U = I
        var err = (RankSeparation.Forward(a, torch.eye(16).unsqueeze(0), torch.eye(16).unsqueeze(0), y, x) - t).square().sum(-1).mean().item<float>();
        Assert.True(err < 0.02, $"a full-rank head with a large scale is the nearest neighbour: error {err}");
        var eye = torch.eye(16).unsqueeze(0);
        T.NoLeak(() => [RankSeparation.Forward(a, eye, eye, y, x)]);
        T.NoLeak(() => { var (b1, b2, b3) = RankSeparation.Batch(4, 3, 5); return [b1, b2, b3]; });
    }

    [Fact]
    public void Rank_separation_rejects_bad_input()
    {
        Assert.Throws<ArgumentException>(() => RankSeparation.Run([(1, 17)], dim: 16));
        Assert.Throws<ArgumentException>(() => RankSeparation.Run([(0, 1)]));
        Assert.Throws<ArgumentException>(() => RankSeparation.Batch(0, 8, 16));
        Assert.Throws<ArgumentException>(() => RankSeparation.Forward(torch.zeros(1, 16, 2), torch.zeros(1, 16, 3), torch.zeros(1, 16, 16), torch.zeros(4, 16), torch.zeros(4, 8, 16)));
        Assert.Throws<ArgumentException>(() => RankSeparation.Forward(torch.zeros(1, 16, 2), torch.zeros(1, 16, 2), torch.zeros(1, 16, 16), torch.zeros(4, 16), torch.zeros(4, 8, 15)));
    }

    [Fact]
    public void A_single_attention_layer_plus_a_wide_mlp_fits_a_random_sequence_map_and_the_mlp_alone_cannot()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var r = SingleLayerApproximation.Run([4, 16, 64]);
        output.WriteLine($"with attention {string.Join(", ", r.Error.Select(e => e.ToString("F4")))}; without {string.Join(", ", r.NoAttentionError.Select(e => e.ToString("F4")))} in {sw.ElapsedMilliseconds} ms");
        Assert.True(r.Error[^1] < 0.05, $"widest: {r.Error[^1]:F4}");
        Assert.True(r.Error[^1] < 0.3 * r.Error[0], $"error falls with width: {r.Error[0]:F4} → {r.Error[^1]:F4}");
        Assert.True(r.NoAttentionError[^1] > 0.3, $"a position-wise MLP cannot see the other tokens: {r.NoAttentionError[^1]:F4}");
    }

    [Fact]
    public void Single_layer_approximation_rejects_bad_input()
    {
        Assert.Throws<ArgumentException>(() => SingleLayerApproximation.Run([0]));
        Assert.Throws<ArgumentException>(() => SingleLayerApproximation.Run([4], sequences: 300, tokens: 4, vocab: 4));
        Assert.Throws<ArgumentException>(() => SingleLayerApproximation.Run([4], dim: 15));
    }
}
