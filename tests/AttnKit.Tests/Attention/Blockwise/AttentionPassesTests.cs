using AttnKit.Attention.Blockwise;

namespace AttnKit.Tests.Attention.Blockwise;

public class AttentionPassesTests
{
    [Fact]
    public void The_three_cascades_by_hand()
    {
        // N = 1024, D = 64, B_r = 128 (8 query blocks), 2-byte elements
        var c = AttentionPasses.Compare(1024, 64, 128, 2);
        Assert.Equal([3, 2, 1], c.Select(x => x.Passes));
        Assert.Equal(4.0 * 1024 * 1024 * 2 + 4.0 * 1024 * 64 * 2, c[0].BytesMoved);       // S and P written and read, plus q, k, v, o
        Assert.Equal(8.0 * 3 * 1024 * 64 * 2 + 2.0 * 1024 * 64 * 2, c[1].BytesMoved);     // k twice and v once per query block
        Assert.Equal(8.0 * 2 * 1024 * 64 * 2 + 2.0 * 1024 * 64 * 2, c[2].BytesMoved);     // k and v once per query block
        Assert.Equal(4.0 * 1024 * 1024 * 64, c[2].Flops);
        Assert.Equal(1.5 * c[2].Flops, c[1].Flops);                                       // QKᵀ computed twice
        Assert.True(c[2].ArithmeticIntensity > 3 * c[0].ArithmeticIntensity);        // 114 against 30 FLOPs per byte
        Assert.Throws<ArgumentException>(() => AttentionPasses.Compare(0, 64, 128));
    }
}
