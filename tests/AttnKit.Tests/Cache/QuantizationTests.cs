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
    public void KIVI_quantizes_keys_per_channel_in_whole_residuals_and_values_per_token_in_channel_groups()
    {
        using var scope = torch.NewDisposeScope();
        using var cache = new KiviCache(bits: 2, group: 4, residual: 4);
        var (k, v) = (T.Randn(1, 2, 14, 8), T.Randn(1, 2, 14, 8));
        var view = cache.Update(new CacheUpdate(k, v, null, torch.arange(14L, device: T.Dev)));
        T.Close(k, view.Keys, 0, "the prefill reads its keys exact");                           // step 2: quantized afterwards
        T.Close(v, view.Values, 0, "and its values");
        Assert.Equal(12, cache.QuantizedKeys);                                                   // 14 − (14 mod 4)
        Assert.Equal(10, cache.QuantizedValues);                                                 // all but the last 4
        var (k1, v1) = (T.Randn(1, 2, 1, 8), T.Randn(1, 2, 1, 8));
        var next = cache.Update(new CacheUpdate(k1, v1, null, torch.tensor(new long[] { 14 }, device: T.Dev)));
        for (int g = 0; g < 3; g++)                                                              // keys per channel over groups of 4 tokens
            T.Close(KvQuantizer.RoundTrip(k.narrow(2, 4 * g, 4), 2, 2), next.Keys.narrow(2, 4 * g, 4), 1e-6, $"key group {g}");
        T.Close(torch.cat([k.narrow(2, 12, 2), k1], 2), next.Keys.narrow(2, 12, 3), 0, "the key residual is exact");
        var grouped = v.narrow(2, 0, 10).reshape(1, 2, 10, 2, 4);                                // values per token, channels in groups of 4
        T.Close(KvQuantizer.RoundTrip(grouped, 2, 4).reshape(1, 2, 10, 8), next.Values.narrow(2, 0, 10), 1e-6, "values per token and channel group");
        T.Close(torch.cat([v.narrow(2, 10, 4), v1], 2), next.Values.narrow(2, 10, 5), 0, "the value residual is exact");
        Assert.Equal((12L, 11L), (cache.QuantizedKeys, cache.QuantizedValues));                  // keys wait for a whole residual; values keep exactly 4
        cache.Update(new CacheUpdate(T.Randn(1, 2, 1, 8), T.Randn(1, 2, 1, 8), null, torch.tensor(new long[] { 15 }, device: T.Dev)));
        Assert.Equal((16L, 12L), (cache.QuantizedKeys, cache.QuantizedValues));                  // the key residual reached 4: quantized whole
        Assert.Equal(16, cache.Length);
        Assert.True(cache.StorageBytes < 2L * 16 * 2 * 8 * 4, $"{cache.StorageBytes} bytes");                     // below fp32 K and V
        Assert.Throws<ArgumentException>(() => new KiviCache(bits: 3));
        Assert.Contains("multiple", Assert.Throws<ArgumentException>(() => new KiviCache(group: 32, residual: 48)).Message);
        using var narrow = new KiviCache(group: 3, residual: 3);
        Assert.Contains("head dimension", Assert.Throws<ArgumentException>(() => narrow.Update(new CacheUpdate(k, v, null, torch.arange(14L, device: T.Dev)))).Message);
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
        using var kivi8 = model.NewCache(_ => new KiviCache(8, 4, 4));
        using var kivi2 = model.NewCache(_ => new KiviCache(2, 4, 4));
        double e8 = T.RelRms(StorageFormTests.Decode(model, tokens, kivi8), expected), e2 = T.RelRms(StorageFormTests.Decode(model, tokens, kivi2), expected);
        Assert.True(e8 < 1e-2 && e8 < e2, $"8 bits {e8:E2}, 2 bits {e2:E2}");
        var attention = torch.tensor(new float[] { 0.5f, 0.05f, 0.3f, 0.1f, 0.05f }, device: T.Dev).view(1, 1, 5);
        Assert.Equal(T.Pattern("1.11."), T.Bools(ZipVlCache.Important(attention, 0.85)));   // 0.5 + 0.3 < 0.85 ≤ + 0.1
        using var zip = model.NewCache(_ => new ZipVlCache(0.9, 8, 2));
        double ez = T.RelRms(StorageFormTests.Decode(model, tokens, zip), expected);
        var layer = (ZipVlCache)zip[0];
        Assert.InRange(layer.ImportantRatio, 0.01, 0.99);
        using var zipLow = model.NewCache(_ => new ZipVlCache(0.9, 2, 2));                         // the same tokens, the important ones at 2 bits too
        double ezLow = T.RelRms(StorageFormTests.Decode(model, tokens, zipLow), expected);
        Assert.True(ez < ezLow, $"mixed {ez:E2} vs 2 bits {ezLow:E2}");
    }
}
