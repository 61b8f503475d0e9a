using AttnKit.Attention;
using AttnKit.Attention.Blockwise;
using AttnKit.Attention.Masks;
using AttnKit.Attention.Parallel;
using AttnKit.Attention.ScoreMods;
using TorchSharp;
using static TorchSharp.torch;
using static AttnKit.Tests.Attention.Blockwise.BlockwiseCases;

namespace AttnKit.Tests.Attention.Parallel;

public class RingAttentionTests
{
    static SequenceLayout Layout(string name, long n, int p) => name switch
    {
        "contiguous" => new ContiguousLayout(n, p),
        "striped" => new StripedLayout(n, p),
        "zig-zag" => new ZigZagLayout(n, p),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string, int, string> Cases()
    {
        var data = new TheoryData<string, int, string>();
        foreach (var layout in new[] { "contiguous", "striped", "zig-zag" })
            foreach (var p in new[] { 1, 2, 4 })
                foreach (var mask in new[] { "none", "causal", "causal-gqa", "softcap" })
                    data.Add(layout, p, mask);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Equals_the_single_device_reference(string layoutName, int p, string maskName)
    {
        var (q, k, v) = maskName == "causal-gqa" ? Qkv(11, 2, 4, 2, 24, 24, 8, 6) : Qkv(12, 1, 2, 2, 24, 24, 8, 8, qScale: maskName == "softcap" ? 4 : 1);
        var o = maskName switch
        {
            "none" => BlockwiseOptions.None,
            "softcap" => BlockwiseOptions.Causal with { ScoreMod = SoftCap.Modifier(5) },
            _ => BlockwiseOptions.Causal,
        };
        var group = ShardGroup.Create(p, T.Dev);
        using var ring = RingAttention.Forward(q, k, v, group, Layout(layoutName, 24, p), o);
        T.Close(Reference(q, k, v, o).Output, ring.Output, 1e-5, $"{layoutName} P={p} {maskName}");
        // the ring passes both blocks at each of P − 1 steps: 2·(P − 1) sends per shard, each a block of N/P tokens
        Assert.Equal(2 * p * (p - 1), ring.Transfers.Count);
        long blockBytes = (k.numel() + v.numel()) / p * 4;                   // one k block and one v block
        Assert.Equal(p * (p - 1) * blockBytes, ring.Transfers.Sum(t => t.Bytes));
        Assert.Equal(p - 1, ring.Transfers.Select(t => t.Step).Distinct().Count());
    }

    [Fact]
    public void Gradients_flow_through_the_ring_and_equal_the_reference()
    {
        var (q0, k0, v0) = Qkv(13, 1, 2, 1, 16, 16, 4, 4);
        var (q1, k1, v1) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var (q2, k2, v2) = (T.Leaf(q0), T.Leaf(k0), T.Leaf(v0));
        var g = Rand(14, 1, 2, 16, 4);
        (ScaledDotProductAttention.Reference(q1, k1, v1, AttentionOptions.Causal).Output * g).sum().backward();
        (RingAttention.Forward(q2, k2, v2, ShardGroup.Create(4, T.Dev), new ZigZagLayout(16, 4), BlockwiseOptions.Causal).Output * g).sum().backward();
        T.Close(q1.grad!, q2.grad!, 1e-5, "dq");
        T.Close(k1.grad!, k2.grad!, 1e-5, "dk");
        T.Close(v1.grad!, v2.grad!, 1e-5, "dv");
    }

    [Fact]
    public void Causal_contiguous_ring_skips_the_blocks_in_the_future()
    {
        var (q, k, v) = Qkv(15, 1, 1, 1, 16, 16, 4, 4);
        using var ring = RingAttention.Forward(q, k, v, ShardGroup.Create(4, T.Dev), new ContiguousLayout(16, 4), BlockwiseOptions.Causal);
        Assert.Equal(4 * 3 / 2, ring.BlocksSkipped);             // shard s skips the blocks of shards s+1 … P−1
        Assert.Equal(16 * 17 / 2, ring.Work!.Total);
        using var striped = RingAttention.Forward(q, k, v, ShardGroup.Create(4, T.Dev), new StripedLayout(16, 4), BlockwiseOptions.Causal);
        Assert.Equal(0, striped.BlocksSkipped);
    }

    [Fact]
    public void Leaves_only_its_output_alive()
    {
        var (q, k, v) = Qkv(16, 1, 2, 2, 12, 12, 4, 4);
        T.NoLeak(() => [RingAttention.Forward(q, k, v, ShardGroup.Create(3, T.Dev), new StripedLayout(12, 3), BlockwiseOptions.Causal).Output]);
        T.NoLeak(() => [RingSelfAttention.Forward(q, k, v, ShardGroup.Create(3, T.Dev), BlockwiseOptions.Causal).Output]);
        var one = q.narrow(2, 11, 1);
        T.NoLeak(() => [TreeAttention.Decode(one, k, v, ShardGroup.Create(3, T.Dev)).Output]);
    }

    [Fact]
    public void Bad_calls_say_what_was_expected()
    {
        var (q, k, v) = Qkv(17, 1, 2, 2, 12, 12, 4, 4);
        var group = ShardGroup.Create(3, T.Dev);
        Assert.Contains("shards", Assert.Throws<ArgumentException>(() => RingAttention.Forward(q, k, v, group, new ContiguousLayout(12, 4))).Message);
        Assert.Contains("tokens", Assert.Throws<ArgumentException>(() => RingAttention.Forward(q, k, v, group, new ContiguousLayout(9, 3))).Message);
        Assert.Contains("self-attention", Assert.Throws<ArgumentException>(() => RingAttention.Forward(q.narrow(2, 0, 6), k, v, group, new ContiguousLayout(12, 3))).Message);
        Assert.Contains("multiple of 6", Assert.Throws<ArgumentException>(() => new ZigZagLayout(9, 3)).Message);
        Assert.Contains("shard", Assert.Throws<ArgumentException>(() => group.Send(q, 0, 3, 0, "x")).Message);
        Assert.Contains("shard", Assert.Throws<ArgumentException>(() => new StripedLayout(12, 3).Positions(3)).Message);
        Assert.Contains("4-D", Assert.Throws<ArgumentException>(() => RingSelfAttention.Forward(q.view(2, 12, 4), k, v, group)).Message);
        Assert.Contains("shards", Assert.Throws<ArgumentException>(() => TreeAttention.Decode(q.narrow(2, 0, 1), k.narrow(2, 0, 2), v.narrow(2, 0, 2), group)).Message);
    }
}

public class SequenceLayoutTests
{
    [Fact]
    public void Every_layout_gives_every_position_to_exactly_one_shard()
    {
        foreach (var layout in new SequenceLayout[] { new ContiguousLayout(24, 4), new StripedLayout(24, 4), new ZigZagLayout(24, 4), new ZigZagLayout(24, 3) })
        {
            var all = Enumerable.Range(0, layout.Shards).SelectMany(layout.Positions).OrderBy(x => x).ToArray();
            Assert.Equal(Enumerable.Range(0, 24).Select(i => (long)i), all);
            var x = torch.arange(24, ScalarType.Float32, T.Dev).view(1, 1, 24, 1);
            var back = layout.Assemble(Enumerable.Range(0, layout.Shards).Select(s => layout.Take(x, s)).ToList(), T.Dev);
            T.Close(x, back, 0, layout.Name);
        }
        Assert.Equal([0L, 3, 6, 9], new StripedLayout(12, 3).Positions(0));
        Assert.Equal([2L, 3, 8, 9], new ZigZagLayout(12, 3).Positions(1));       // chunks of 2: chunk 1 and chunk 2·3 − 1 − 1 = 4
    }

    [Fact]
    public void Ring_work_by_hand_for_two_shards_of_four_tokens()
    {
        // contiguous: shard 0 = {0, 1}, shard 1 = {2, 3}. Step 0, own blocks: 3 causal pairs each. Step 1: shard 0 sees
        // keys {2, 3} (none allowed), shard 1 sees keys {0, 1} (all 4). Steps cost 3 and 4; 10 pairs in 2·7 shard-steps.
        var contiguous = ContextParallelWork.Ring(new ContiguousLayout(4, 2), causal: true);
        Assert.Equal(new long[,] { { 3, 0 }, { 3, 4 } }, contiguous.Pairs);
        Assert.Equal([3L, 4], contiguous.StepCost);
        Assert.Equal(10 / 14.0, contiguous.Efficiency, 12);
        // zig-zag: shard 0 = {0, 3}, shard 1 = {1, 2}. Step 0: 3 and 3; step 1: query 3 sees keys 1, 2 (2), queries 1, 2 see key 0 (2)
        var zigzag = ContextParallelWork.Ring(new ZigZagLayout(4, 2), causal: true);
        Assert.Equal(new long[,] { { 3, 2 }, { 3, 2 } }, zigzag.Pairs);
        Assert.Equal(1.0, zigzag.Efficiency, 12);
        Assert.Equal(16, ContextParallelWork.Ring(new StripedLayout(4, 2), causal: false).Total);
        // the step map of the contiguous causal ring: own blocks at step 0, shard 1's queries see shard 0's keys at step 1
        Assert.Equal(new int[,] { { 0, -1, -1, -1 }, { 0, 0, -1, -1 }, { 1, 1, 0, -1 }, { 1, 1, 0, 0 } }, ContextParallelWork.StepMap(new ContiguousLayout(4, 2), causal: true));
    }

    [Fact]
    public void Striped_and_zig_zag_balance_a_causal_ring_that_contiguous_does_not()
    {
        double Eff(SequenceLayout l) => ContextParallelWork.Ring(l, causal: true).Efficiency;
        Assert.True(Eff(new ContiguousLayout(4096, 8)) < 0.6);
        Assert.True(Eff(new StripedLayout(4096, 8)) > 0.99);
        Assert.True(Eff(new ZigZagLayout(4096, 8)) > 0.9);
    }
}

public class TreeAttentionTests
{
    [Theory]
    [InlineData(1, Reduction.Tree)]
    [InlineData(3, Reduction.Tree)]
    [InlineData(4, Reduction.Tree)]
    [InlineData(5, Reduction.Tree)]
    [InlineData(8, Reduction.Tree)]
    [InlineData(5, Reduction.Chain)]
    [InlineData(8, Reduction.Chain)]
    public void Decoding_over_a_sharded_cache_equals_the_reference(int p, Reduction reduction)
    {
        var (q, k, v) = Qkv(21, 2, 4, 2, 3, 40, 8, 6);
        var o = BlockwiseOptions.Causal;                                     // 3 new tokens at positions 37–39
        using var r = TreeAttention.Decode(q, k, v, ShardGroup.Create(p, T.Dev), o, reduction);
        T.Close(ScaledDotProductAttention.Reference(q, k, v, AttentionOptions.Causal).Output, r.Output, 1e-5, $"P={p} {reduction}");
        int rounds = p == 1 ? 0 : reduction == Reduction.Tree ? (int)Math.Ceiling(Math.Log2(p)) : p - 1;
        Assert.Equal(p == 1 ? 0 : 1 + rounds, r.Steps);                     // the query broadcast, then the reduction
        Assert.Equal(p - 1, r.Transfers.Count(t => t.What == "partial output"));
    }
}

public class RingSelfAttentionTests
{
    [Theory]
    [InlineData(1, "none")]
    [InlineData(2, "causal")]
    [InlineData(4, "causal")]
    [InlineData(4, "gqa")]
    [InlineData(3, "softcap")]
    public void Equals_the_reference_and_passes_keys_then_values(int p, string name)
    {
        var (q, k, v) = name == "gqa" ? Qkv(31, 1, 4, 2, 24, 24, 8, 8) : Qkv(32, 2, 2, 2, 24, 24, 8, 5, qScale: 3);
        var o = name switch
        {
            "none" => BlockwiseOptions.None,
            "softcap" => BlockwiseOptions.Causal with { ScoreMod = SoftCap.Modifier(4) },
            _ => BlockwiseOptions.Causal,
        };
        using var r = RingSelfAttention.Forward(q, k, v, ShardGroup.Create(p, T.Dev), o);
        T.Close(Reference(q, k, v, o).Output, r.Output, 1e-5, $"P={p} {name}");
        Assert.Equal(2 * (p - 1), r.Transfers.Select(t => t.Step).Distinct().Count());
        Assert.Equal(p * (p - 1), r.Transfers.Count(t => t.What == "k block"));
        Assert.Equal(p * (p - 1), r.Transfers.Count(t => t.What == "v block"));
        Assert.Equal(2L * q.shape[0] * q.shape[1] * (24 / p) * 24 * 4, r.ScoreBytesPerShard);   // N/P × N scores and weights
    }
}

public class CoreAttentionDisaggregationTests
{
    [Fact]
    public void One_long_document_unbalances_colocated_attention_by_hand()
    {
        // budget 8 tokens per rank: rank 0 gets the 8-token document (36 pairs), rank 1 eight 1-token ones (8 pairs)
        var (colocated, disaggregated) = CoreAttentionDisaggregation.Simulate([8, 1, 1, 1, 1, 1, 1, 1, 1], ranks: 2, chunk: 2);
        Assert.Equal([36L, 8], colocated.AttentionPairs);
        Assert.Equal([8L, 8], colocated.Tokens);
        Assert.Equal(36 / 22.0, colocated.Imbalance, 12);
        Assert.Equal(44, disaggregated.AttentionPairs.Sum());
        Assert.True(disaggregated.Imbalance < colocated.Imbalance);
        Assert.True(disaggregated.TokensMoved > 0);
    }

    [Fact]
    public void Disaggregation_balances_a_long_tailed_mix()
    {
        var lengths = CoreAttentionDisaggregation.DocumentLengths(128, 131_072, seed: 1);
        var (colocated, disaggregated) = CoreAttentionDisaggregation.Simulate(lengths, ranks: 16, chunk: 512);
        Assert.Equal(colocated.AttentionPairs.Sum(), disaggregated.AttentionPairs.Sum());
        Assert.True(colocated.Imbalance > 1.25, $"colocated {colocated.Imbalance}");
        Assert.True(disaggregated.Imbalance < 1.05, $"disaggregated {disaggregated.Imbalance}");
    }

    [Fact]
    public void Bad_calls_say_what_was_expected()
    {
        Assert.Throws<ArgumentException>(() => CoreAttentionDisaggregation.Simulate([], 2, 2));
        Assert.Throws<ArgumentException>(() => CoreAttentionDisaggregation.Simulate([4, 0], 2, 2));
        Assert.Throws<ArgumentException>(() => CoreAttentionDisaggregation.Simulate([4], 0, 2));
        Assert.Throws<ArgumentException>(() => CoreAttentionDisaggregation.DocumentLengths(0, 10, 1));
    }
}
