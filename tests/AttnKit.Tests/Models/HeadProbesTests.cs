using AttnKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Models;

public class HeadProbesTests
{
    /// <summary>Two heads over 4 tokens: head 0 looks at the previous token (query 0 at itself), head 1 at token 0.</summary>
    private static Tensor Weights()
    {
        var prev = torch.tensor(new float[,] { { 1, 0, 0, 0 }, { 1, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 } }, device: T.Dev);
        var sink = torch.zeros(4, 4, device: T.Dev);
        sink.select(1, 0).fill_(1);
        return torch.stack([prev, sink]).unsqueeze(0);                                                   // (1, 2, 4, 4)
    }

    [Fact]
    public void Previous_token_and_sink_scores_name_the_heads_that_do_it()
    {
        using var scope = torch.NewDisposeScope();
        var w = Weights();
        var prev = HeadProbes.PreviousToken([w, w]);
        Assert.Equal(1.0, prev[0, 0], 6);
        Assert.Equal(1.0 / 3, prev[1, 1], 6);                                                           // the sink head is at i−1 only for query 1
        var sink = HeadProbes.SinkShare([w]);
        Assert.Equal(1.0 / 3, sink[0, 0], 6);
        Assert.Equal(1.0, sink[0, 1], 6);
        Assert.Equal((1 / 2.0 + 1 / 3.0 + 1 / 4.0) / 3, HeadProbes.UniformSinkShare(4), 12);
    }

    [Fact]
    public void Prefix_matching_weighs_the_tokens_after_earlier_occurrences()
    {
        using var scope = torch.NewDisposeScope();
        var inputs = torch.tensor(new long[,] { { 5, 7, 5, 9 } }, device: T.Dev);                       // query 2 (token 5) should look at key 1 (after the earlier 5)
        var w = torch.zeros(1, 2, 4, 4, device: T.Dev);
        w[0, 0, 2, 1] = torch.tensor(0.75f);
        w[0, 0, 2, 2] = torch.tensor(0.25f);
        w[0, 1, 2, 0] = torch.tensor(1f);
        var score = HeadProbes.PrefixMatching([w], inputs);
        Assert.Equal(0.75, score[0, 0], 6);
        Assert.Equal(0.0, score[0, 1], 6);
        Assert.Throws<ArgumentException>(() => HeadProbes.PrefixMatching([w], torch.tensor(new long[,] { { 1, 2, 3, 4 } }, device: T.Dev)));
        Assert.Throws<ArgumentException>(() => HeadProbes.PrefixMatching([w], torch.tensor(new long[,] { { 5, 7, 5 } }, device: T.Dev)));
        Assert.Throws<ArgumentException>(() => HeadProbes.SinkShare([]));
        Assert.Throws<ArgumentException>(() => HeadProbes.SinkShare([torch.zeros(1, 2, 3, 4, device: T.Dev)]));
    }
}
