using AttnKit.Attention;
using AttnKit.Cache;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Cache;

/// <summary>StreamingLLM's read: the window at the query's position, the sinks at its rank, one softmax over both.</summary>
public class StreamingLlmAttentionTests
{
    /// <summary>The formula written out: scores of both parts side by side, one softmax, float32.</summary>
    static (Tensor Output, Tensor Weights) Dense(Tensor q, Tensor qs, Tensor k, Tensor v, long sinks, Tensor? allowed)
    {
        long g = q.shape[1] / k.shape[1], d = q.shape[3];
        var kr = k.repeat_interleave(g, 1);
        var vr = v.repeat_interleave(g, 1);
        var scores = torch.cat([torch.matmul(qs, kr.narrow(2, 0, sinks).transpose(2, 3)),
                                torch.matmul(q, kr.narrow(2, sinks, k.shape[2] - sinks).transpose(2, 3))], 3) / Math.Sqrt(d);
        if (allowed is not null) scores = scores.masked_fill(allowed.logical_not(), double.NegativeInfinity);
        var w = scores.softmax(-1);
        return (torch.matmul(w, vr), w);
    }

    [Theory]
    [InlineData(8L, 2L, 1L, false)]
    [InlineData(8L, 2L, 5L, true)]
    [InlineData(4L, 4L, 3L, true)]
    public void Both_paths_equal_one_softmax_over_the_two_query_rotations(long hq, long hkv, long n, bool masked)
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(3);
        Tensor R(params long[] s) => torch.randn(s, generator: gen).to(T.Dev);
        var (q, qs, k, v) = (R(2, hq, n, 16), R(2, hq, n, 16), R(2, hkv, 12, 16), R(2, hkv, 12, 16));
        var allowed = masked ? torch.rand(new long[] { 1, 1, n, 12 }, generator: gen).to(T.Dev).gt(0.3).logical_or(torch.eye(n, 12, ScalarType.Bool, T.Dev).view(1, 1, n, 12)) : null;
        var (o, w) = Dense(q, qs, k, v, 3, allowed);
        T.Close(o, StreamingLlmAttention.Attend(q, qs, k, v, 3, allowed).Output, 2e-5, "output");
        var withWeights = StreamingLlmAttention.Attend(q, qs, k, v, 3, allowed, returnWeights: true);
        T.Close(o, withWeights.Output, 2e-5, "output (reference path)");
        T.Close(w, withWeights.Weights!, 2e-6, "weights");
    }

    [Fact]
    public void Gradients_flow_through_the_one_call_form()
    {
        using var scope = torch.NewDisposeScope();
        var gen = new Generator(4);
        Tensor R(params long[] s) => T.Leaf(torch.randn(s, generator: gen).to(T.Dev));
        var (q, qs, k, v) = (R(1, 4, 1, 8), R(1, 4, 1, 8), R(1, 2, 6, 8), R(1, 2, 6, 8));
        StreamingLlmAttention.Attend(q, qs, k, v, 2).Output.sum().backward();
        var (q2, qs2, k2, v2) = (T.Leaf(q), T.Leaf(qs), T.Leaf(k), T.Leaf(v));
        Dense(q2, qs2, k2, v2, 2, null).Output.sum().backward();
        T.Close(q2.grad!, q.grad!, 1e-5, "dq");
        T.Close(qs2.grad!, qs.grad!, 1e-5, "dq at the rank");
        T.Close(k2.grad!, k.grad!, 1e-5, "dk");
        T.Close(v2.grad!, v.grad!, 1e-5, "dv");
    }

    [Fact]
    public void A_decoding_step_leaves_no_tensors_alive_and_bad_shapes_are_refused()
    {
        var (q, qs, k, v) = (T.Randn(1, 4, 1, 8), T.Randn(1, 4, 1, 8), T.Randn(1, 2, 6, 8), T.Randn(1, 2, 6, 8));
        T.NoLeak(() => [StreamingLlmAttention.Attend(q, qs, k, v, 2).Output]);
        Assert.Contains("sinkQueries", Assert.Throws<ArgumentException>(() => StreamingLlmAttention.Attend(q, T.Randn(1, 4, 2, 8), k, v, 2)).Message);
        Assert.Contains("sinks", Assert.Throws<ArgumentException>(() => StreamingLlmAttention.Attend(q, qs, k, v, -1)).Message);
    }
}
