using AttnKit.Attention;
using AttnKit.Attention.Masks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Attention;

public class MultiHeadAttentionTests
{
    /// <summary>The layer written out by hand, head by head, from its weights: softmax(q_h k_hᵀ/√D) v_h, concatenated, projected.</summary>
    static Tensor ByHand(MultiHeadAttention mha, Tensor x, Tensor? context, bool causal)
    {
        var c = context ?? x;
        var cfg = mha.Config;
        int d = cfg.Dim, groups = cfg.QueryHeads / cfg.KvHeads;
        var q = torch.matmul(x, mha.QueryProjection.weight!.t());
        var k = torch.matmul(c, mha.KeyProjection.weight!.t());
        var v = torch.matmul(c, mha.ValueProjection.weight!.t());
        var heads = new List<Tensor>();
        for (int h = 0; h < cfg.QueryHeads; h++)
        {
            int g = h / groups;
            var qh = q[.., .., (h * d)..((h + 1) * d)];
            var kh = k[.., .., (g * d)..((g + 1) * d)];
            var vh = v[.., .., (g * d)..((g + 1) * d)];
            var s = torch.matmul(qh, kh.transpose(1, 2)) / Math.Sqrt(d);
            if (causal) s = s.masked_fill(torch.ones(s.shape[1], s.shape[2], ScalarType.Bool, s.device).triu(1), double.NegativeInfinity);
            heads.Add(torch.matmul(torch.softmax(s, -1), vh));
        }
        return torch.matmul(torch.cat(heads, -1), mha.OutputProjection.weight!.t());
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(4, 2)]
    [InlineData(4, 1)]
    public void Self_attention_equals_the_layer_written_by_hand(int hq, int hkv)
    {
        torch.manual_seed(1);
        using var mha = new MultiHeadAttention(new(ModelDim: 32, QueryHeads: hq, KeyValueHeads: hkv), T.Dev);
        var x = T.Randn(2, 7, 32);
        foreach (bool causal in new[] { false, true })
        {
            using var r = mha.Forward(x, options: causal ? AttentionOptions.Causal : null);
            T.Close(ByHand(mha, x, null, causal), r.Output, 1e-5, $"causal={causal}");
        }
        T.Close(ByHand(mha, x, null, false), mha.forward(x), 1e-5, "forward");
        Assert.Equal(hkv * 8, mha.KeyProjection.weight!.shape[0]);
    }

    [Fact]
    public void Cross_attention_reads_the_context()
    {
        torch.manual_seed(2);
        using var mha = new MultiHeadAttention(new(ModelDim: 16, QueryHeads: 2, ContextDim: 24), T.Dev);
        var x = T.Randn(3, 5, 16);
        var ctx = T.Randn(3, 9, 24);
        using var r = mha.Forward(x, ctx, new() { ReturnWeights = true });
        Assert.Equal([3L, 5, 16], r.Output.shape);
        Assert.Equal([3L, 2, 5, 9], r.Weights!.shape);
        T.Close(ByHand(mha, x, ctx, false), r.Output, 1e-5);
    }

    [Fact]
    public void Gradients_reach_every_projection()
    {
        using var mha = new MultiHeadAttention(new(16, 4, 2, Bias: true), T.Dev);
        var x = T.Randn(2, 4, 16);
        using var r = mha.Forward(x, options: AttentionOptions.Causal);
        r.Output.pow(2).sum().backward();
        foreach (var (name, p) in mha.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} got no gradient");
    }

    [Fact]
    public void Forward_leaves_no_tensors_behind()
    {
        using var mha = new MultiHeadAttention(new(16, 4, 2), T.Dev);
        var x = T.Randn(2, 4, 16);
        using (torch.no_grad())
        {
            T.NoLeak(() => { var r = mha.Forward(x, options: new() { Mask = Masks.Causal, ReturnWeights = true }); return [r.Output, r.Weights]; });
            T.NoLeak(() => [mha.forward(x)]);
        }
    }
}
