using AttnKit.Attention.Masks;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Attention;

public class MaskTests
{
    static void Matches(AttentionMask mask, long nq, long nk, params string[] rows)
    {
        var m = mask.ToMatrix(nq, nk);
        Assert.True(T.Pattern(rows).SequenceEqual(T.Bools(m)), $"{mask.Name}: expected\n{string.Join("\n", rows)}\ngot\n{T.Picture(m)}");
    }

    [Fact]
    public void Causal() => Matches(Masks.Causal, 4, 4,
        "1...",
        "11..",
        "111.",
        "1111");

    [Fact]
    public void Causal_with_fewer_queries_than_keys_aligns_bottom_right() => Matches(Masks.Causal, 2, 5,
        "1111.",
        "11111");

    [Fact]
    public void Causal_with_an_explicit_query_offset()
    {
        var m = Masks.Causal.ToMatrix(2, 5, queryOffset: 0);
        Assert.True(T.Pattern("1....", "11...").SequenceEqual(T.Bools(m)), T.Picture(m));
    }

    [Fact]
    public void Sliding_window() => Matches(Masks.SlidingWindow(2), 5, 5,
        "1....",
        "11...",
        ".11..",
        "..11.",
        "...11");

    [Fact]
    public void Bidirectional_sliding_window() => Matches(Masks.SlidingWindow(2, causal: false), 4, 4,
        "11..",
        "111.",
        ".111",
        "..11");

    [Fact]
    public void Prefix_lm() => Matches(Masks.PrefixLM(2), 5, 5,
        "11...",
        "11...",
        "111..",
        "1111.",
        "11111");

    [Fact]
    public void Prefix_lm_per_batch_element()
    {
        var mask = Masks.PrefixLM(torch.tensor(new long[] { 0, 3 }, device: T.Dev));
        var m = mask.Materialize(2, 1, 4, 4, T.Dev);
        Assert.Equal([2L, 1, 4, 4], m.shape);
        Assert.True(T.Pattern("1...", "11..", "111.", "1111").SequenceEqual(T.Bools(m[0, 0])), T.Picture(m[0, 0]));
        Assert.True(T.Pattern("111.", "111.", "111.", "1111").SequenceEqual(T.Bools(m[1, 0])), T.Picture(m[1, 0]));
    }

    [Fact]
    public void Document_mask_with_causal()
    {
        var ids = torch.tensor(new long[] { 0, 0, 1, 1, 1 }, device: T.Dev).view(1, 5);
        Matches(Masks.Document(ids) & Masks.Causal, 5, 5,
            "1....",
            "11...",
            "..1..",
            "..11.",
            "..111");
        Matches(Masks.Document(ids), 5, 5,
            "11...",
            "11...",
            "..111",
            "..111",
            "..111");
    }

    [Fact]
    public void Dilated_window() => Matches(Masks.DilatedWindow(window: 2, dilation: 2), 6, 6,
        "1.....",
        ".1....",
        "1.1...",
        ".1.1..",
        "..1.1.",
        "...1.1");

    [Fact]
    public void Sinks_and_window() => Matches(Masks.SinksAndWindow(sinks: 1, window: 2), 6, 6,
        "1.....",
        "11....",
        "111...",
        "1.11..",
        "1..11.",
        "1...11");

    [Fact]
    public void Full_allows_everything() => Matches(Masks.Full, 2, 3, "111", "111");

    [Fact]
    public void Masks_ignoring_batch_and_head_stay_small()
    {
        var m = (Masks.Causal & Masks.SlidingWindow(3)).Materialize(4, 8, 6, 6, T.Dev);
        Assert.Equal([1L, 1, 6, 6], m.shape);
        var headMask = new AttentionMask("even heads", (b, h, q, k) => h.remainder(2).eq(0).logical_and(q.ge(k)));
        var mh = headMask.Materialize(4, 8, 6, 6, T.Dev);
        Assert.Equal([1L, 8, 6, 6], mh.shape);
        Assert.False(mh[0, 1].any().item<bool>());
        Assert.Equal(21, mh[0, 2].sum().item<long>());
    }

    [Fact]
    public void From_tensor_round_trips()
    {
        var t = torch.rand(1, 1, 3, 4, device: T.Dev).gt(0.5);
        Assert.True(T.Bools(t[0, 0]).SequenceEqual(T.Bools(Masks.FromTensor(t).ToMatrix(3, 4))));
    }

    static bool Same(AttentionMask a, AttentionMask b, long nq, long nk) => T.Bools(a.ToMatrix(nq, nk)).SequenceEqual(T.Bools(b.ToMatrix(nq, nk)));

    static AttentionMask Pick(int which, int p) => (which % 6) switch
    {
        0 => Masks.Causal,
        1 => Masks.SlidingWindow(1 + p % 5),
        2 => Masks.PrefixLM(p % 6),
        3 => Masks.DilatedWindow(1 + p % 3, 1 + p % 2),
        4 => Masks.SinksAndWindow(p % 3, 1 + p % 4),
        _ => Masks.SlidingWindow(1 + p % 3, causal: false),
    };

    [FsCheck.Xunit.Property(MaxTest = 60)]
    public Property And_Or_Not_obey_boolean_laws(NonNegativeInt x, NonNegativeInt y, NonNegativeInt z, PositiveInt n)
    {
        var (a, b, c) = (Pick(x.Get, y.Get), Pick(y.Get, z.Get), Pick(z.Get, x.Get));
        long size = 1 + n.Get % 7;
        bool laws =
            Same(!(a & b), !a | !b, size, size)                // De Morgan
            && Same(!(a | b), !a & !b, size, size)
            && Same(!!a, a, size, size)                        // double negation
            && Same(a & b, b & a, size, size)                  // commutativity
            && Same(a | (b & c), (a | b) & (a | c), size, size) // distributivity
            && Same(a & Masks.Full, a, size, size)             // identity
            && Same(a | !a, Masks.Full, size, size)            // excluded middle
            && !(a & !a).ToMatrix(size, size).any().item<bool>();
        return laws.ToProperty();
    }

    [FsCheck.Xunit.Property(MaxTest = 40)]
    public Property Sliding_window_is_causal_and_keeps_at_most_window_keys(PositiveInt w, PositiveInt n)
    {
        long window = 1 + w.Get % 6, size = 1 + n.Get % 9;
        var m = Masks.SlidingWindow(window).ToMatrix(size, size);
        var perRow = m.sum(1).to(ScalarType.Int64);
        bool ok = Same(Masks.SlidingWindow(window) & Masks.Causal, Masks.SlidingWindow(window), size, size)
                  && Enumerable.Range(0, (int)size).All(i => perRow[i].item<long>() == Math.Min(window, i + 1));
        return ok.ToProperty();
    }
}
