using AttnKit.Attention;
using AttnKit.Attention.Blockwise;
using TorchSharp;
using static TorchSharp.torch;
using static AttnKit.Tests.Attention.Blockwise.BlockwiseCases;

namespace AttnKit.Tests.Attention.Blockwise;

public class LogSumExpMergeTests
{
    static readonly AttentionOptions Lse = new() { ReturnLogSumExp = true, QueryOffset = 0 };

    static PartialAttention PartOf(Tensor q, Tensor k, Tensor v)
    {
        var r = ScaledDotProductAttention.Reference(q, k, v, Lse);
        return new PartialAttention(r.Output, r.LogSumExp!);
    }

    [Fact]
    public void Merging_two_halves_of_the_keys_equals_attention_over_all_of_them()
    {
        var (q, k, v) = Qkv(1, 2, 3, 3, 5, 12, 8, 6);
        using var all = ScaledDotProductAttention.Reference(q, k, v, Lse);
        using var a = PartOf(q, k.narrow(2, 0, 7), v.narrow(2, 0, 7));
        using var b = PartOf(q, k.narrow(2, 7, 5), v.narrow(2, 7, 5));
        using var merged = LogSumExpMerge.Merge(a, b);
        T.Close(all.Output, merged.Output, 1e-6, "output");
        T.Close(all.LogSumExp!, merged.LogSumExp, 1e-6, "lse");
        using var swapped = LogSumExpMerge.Merge(b, a);
        T.Close(merged.Output, swapped.Output, 1e-7, "commutative");
    }

    [Fact]
    public void MergeAll_equals_a_fold_in_any_order()
    {
        var (q, k, v) = Qkv(2, 1, 2, 2, 4, 16, 4, 4);
        var parts = Enumerable.Range(0, 4).Select(i => PartOf(q, k.narrow(2, 4 * i, 4), v.narrow(2, 4 * i, 4))).ToList();
        using var all = LogSumExpMerge.MergeAll(parts);
        using var reference = ScaledDotProductAttention.Reference(q, k, v, Lse);
        T.Close(reference.Output, all.Output, 1e-6, "MergeAll");
        foreach (var order in new[] { new[] { 3, 1, 0, 2 }, new[] { 2, 0, 3, 1 } })
        {
            var acc = LogSumExpMerge.Merge(parts[order[0]], parts[order[1]]);
            foreach (var i in order.Skip(2)) acc = LogSumExpMerge.Merge(acc, parts[i]);
            T.Close(all.Output, acc.Output, 1e-6, "fold");
            T.Close(all.LogSumExp, acc.LogSumExp, 1e-6, "fold lse");
        }
    }

    [Fact]
    public void Huge_log_sum_exps_merge_without_overflow_by_hand()
    {
        // o_a = 1 with ℓ_a = 1000, o_b = 3 with ℓ_b = 1000 + log 3: weights 1 : 3, so o = (1 + 9) / 4 = 2.5, ℓ = 1000 + log 4
        var a = new PartialAttention(torch.ones(1, 1, 1, 1, device: T.Dev), torch.full([1, 1, 1], 1000f, device: T.Dev));
        var b = new PartialAttention(torch.full([1, 1, 1, 1], 3f, device: T.Dev), torch.full([1, 1, 1], (float)(1000 + Math.Log(3)), device: T.Dev));
        using var m = LogSumExpMerge.Merge(a, b);
        Assert.Equal(2.5f, T.Floats(m.Output)[0], 1e-5f);
        Assert.Equal((float)(1000 + Math.Log(4)), T.Floats(m.LogSumExp)[0], 1e-3f);
    }

    [Fact]
    public void Empty_parts_are_the_identity_and_two_empty_parts_give_zeros_not_NaN()
    {
        var (q, k, v) = Qkv(3, 1, 1, 1, 3, 5, 4, 2);
        using var a = PartOf(q, k, v);
        using var empty = PartialAttention.Empty(1, 1, 3, 2, T.Dev);
        using var m = LogSumExpMerge.Merge(empty, a);
        T.Close(a.Output, m.Output, 1e-7, "identity");
        T.Close(a.LogSumExp, m.LogSumExp, 1e-7, "identity lse");
        using var both = LogSumExpMerge.Merge(empty, PartialAttention.Empty(1, 1, 3, 2, T.Dev));
        Assert.All(T.Floats(both.Output), x => Assert.Equal(0f, x));
        Assert.All(T.Floats(both.LogSumExp), x => Assert.True(float.IsNegativeInfinity(x)));
    }

    [Fact]
    public void Merge_leaves_only_its_result_alive()
    {
        var (q, k, v) = Qkv(4, 1, 2, 2, 3, 6, 4, 4);
        using var a = PartOf(q, k.narrow(2, 0, 3), v.narrow(2, 0, 3));
        using var b = PartOf(q, k.narrow(2, 3, 3), v.narrow(2, 3, 3));
        T.NoLeak(() => { var m = LogSumExpMerge.Merge(a, b); return [m.Output, m.LogSumExp]; });
        T.NoLeak(() => { var m = LogSumExpMerge.MergeAll([a, b]); return [m.Output, m.LogSumExp]; });
    }

    [Fact]
    public void Bad_calls_say_what_was_expected()
    {
        using var a = PartialAttention.Empty(1, 2, 3, 4, T.Dev);
        using var b = PartialAttention.Empty(1, 2, 5, 4, T.Dev);
        Assert.Contains("expected an output of shape", Assert.Throws<ArgumentException>(() => LogSumExpMerge.Merge(a, b)).Message);
        Assert.Throws<ArgumentException>(() => LogSumExpMerge.MergeAll([]));
        Assert.Contains("to match the output", Assert.Throws<ArgumentException>(() => new PartialAttention(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 4))).Message);
        Assert.Contains("3-D", Assert.Throws<ArgumentException>(() => new PartialAttention(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 1))).Message);
    }
}
