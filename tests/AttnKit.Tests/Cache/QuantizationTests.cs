using AttnKit.Cache;
using AttnKit.Cache.Quantization;
using AttnKit.Tests.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Cache;

[Collection("global RNG")]
public class QuantizationTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(8)]
    public void Quantize_then_dequantize_stays_within_half_a_step(int bits)
    {
        using var scope = torch.NewDisposeScope();
        var x = T.Randn(2, 3, 32, 16) * 3;
        foreach (int dim in new[] { 2, 3 })
        {
            using var q = KvQuantizer.Quantize(x, bits, dim);
            var err = (KvQuantizer.Dequantize(q) - x).abs();
            var step = (x.amax([dim], true) - x.amin([dim], true)) / ((1 << bits) - 1);
            Assert.True(err.le(step / 2 + 1e-5).all().item<bool>(), $"{bits} bits along {dim}: error above s/2");
            Assert.True(q.Codes.max().item<byte>() <= (1 << bits) - 1);
        }
        Assert.Throws<ArgumentException>(() => KvQuantizer.Quantize(x, 9, 3));
        Assert.Throws<ArgumentException>(() => KvQuantizer.Quantize(x, 2, 4));
    }

    [Fact]
    public void KIVI_keeps_recent_tokens_exact_quantizes_keys_per_channel_and_saves_memory()
    {
        using var scope = torch.NewDisposeScope();
        using var cache = new KiviCache(bits: 2, group: 4, residual: 4);
        var k = T.Randn(1, 2, 14, 8);
        var v = T.Randn(1, 2, 14, 8);
        var view = cache.Update(new CacheUpdate(k, v, null, torch.arange(14L, device: T.Dev)));
        Assert.Equal(8, cache.QuantizedLength);                                           // two groups of 4; 6 residual (> 4 would allow no more)
        T.Close(k.narrow(2, 8, 6), view.Keys.narrow(2, 8, 6), 0, "the residual is exact");
        var group = k.narrow(2, 0, 4);
        T.Close(KvQuantizer.RoundTrip(group, 2, 2), view.Keys.narrow(2, 0, 4), 1e-6, "keys per channel over the group");
        T.Close(KvQuantizer.RoundTrip(v.narrow(2, 0, 4), 2, 3), view.Values.narrow(2, 0, 4), 1e-6, "values per token");
        Assert.True(cache.StorageBytes < 2L * 14 * 2 * 8 * 4, $"{cache.StorageBytes} bytes");                     // below fp32 K and V
        Assert.Throws<ArgumentException>(() => new KiviCache(bits: 3));
    }

    [Fact]
    public void KIVI_at_8_bits_decodes_close_to_the_full_cache_and_ZipVL_gives_important_tokens_more_bits()
    {
        using var model = TinyLmTests.Model();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = TinyLmTests.Tokens(3, 2, 15);
        using var full = model.NewCache();
        var expected = StorageFormTests.Decode(model, tokens, full);
        using var kivi8 = model.NewCache(_ => new KiviCache(8, 2, 2));
        using var kivi2 = model.NewCache(_ => new KiviCache(2, 2, 2));
        double e8 = T.RelRms(StorageFormTests.Decode(model, tokens, kivi8), expected), e2 = T.RelRms(StorageFormTests.Decode(model, tokens, kivi2), expected);
        Assert.True(e8 < 1e-2 && e8 < e2, $"8 bits {e8:E2}, 2 bits {e2:E2}");
        var attention = torch.tensor(new float[] { 0.5f, 0.05f, 0.3f, 0.1f, 0.05f }, device: T.Dev).view(1, 1, 5);
        Assert.Equal(T.Pattern("1.11."), T.Bools(ZipVlCache.Important(attention, 0.85)));   // 0.5 + 0.3 < 0.85 ≤ + 0.1
        using var zip = model.NewCache(_ => new ZipVlCache(0.9, 8, 2));
        double ez = T.RelRms(StorageFormTests.Decode(model, tokens, zip), expected);
        var layer = (ZipVlCache)zip[0];
        Assert.InRange(layer.ImportantRatio, 0.01, 0.99);
        Assert.True(ez < e2, $"mixed {ez:E2} vs 2 bits {e2:E2}");
    }
}
