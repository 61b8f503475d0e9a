using AttnKit.Core;
using TorchSharp;

namespace AttnKit.Tests.Core;

/// <summary>Tests that use the global random generators run alone, after the parallel ones.</summary>
[CollectionDefinition("global RNG", DisableParallelization = true)]
public sealed class GlobalRngCollection;

[Collection("global RNG")]
public class KitTests
{
    [Fact]
    public void Cpu_can_be_forced_and_defaults_to_the_quick_profile()
    {
        var s = Kit.Resolve("cpu", null);
        Assert.Equal(DeviceType.CPU, s.Device.type);
        Assert.Equal(SizeProfile.Quick, s.Profile);
        Assert.Equal("ATTN_DEVICE=cpu", s.DeviceSource);
        Assert.Equal(SizeProfile.Full, Kit.Resolve(" CPU ", "Full").Profile);
    }

    [Fact]
    public void Auto_picks_cuda_exactly_when_it_is_available()
    {
        var s = Kit.Resolve(null, null);
        Assert.Equal(torch.cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU, s.Device.type);
        Assert.Equal(s.IsCuda ? SizeProfile.Full : SizeProfile.Quick, s.Profile);
    }

    [Fact]
    public void Forcing_cuda_without_it_says_why()
    {
        if (torch.cuda.is_available()) Assert.Skip("CUDA is available here");
        var e = Assert.Throws<InvalidOperationException>(() => Kit.Resolve("cuda", null));
        Assert.Contains("ATTN_DEVICE=cuda forces CUDA", e.Message);
        Assert.Contains("TorchSharp", e.Message);
    }

    [Theory]
    [InlineData("gpu", null, "ATTN_DEVICE=gpu")]
    [InlineData("cpu", "medium", "ATTN_PROFILE=medium")]
    public void Unknown_values_are_refused(string? device, string? profile, string fragment)
    {
        var e = Assert.Throws<InvalidOperationException>(() => Kit.Resolve(device, profile));
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void Seeding_repeats()
    {
        Kit.Seed(42);
        var a = torch.randn(5, device: Kit.Device).cpu().data<float>().ToArray();
        Kit.Seed(42);
        var b = torch.randn(5, device: Kit.Device).cpu().data<float>().ToArray();
        var c = torch.randn(5, device: Kit.Device).cpu().data<float>().ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(b, c);
    }

    [Fact]
    public void A_device_named_without_an_index_is_the_current_one()
    {
        using var t = torch.zeros(2, device: Kit.Device);
        Assert.True(Kit.IsOn(t, new torch.Device(Kit.Device.type)));
        Assert.True(Kit.IsOn(t, t.device));
        Assert.False(Kit.IsOn(t, new torch.Device(Kit.Device.type == DeviceType.CPU ? DeviceType.CUDA : DeviceType.CPU)));
        if (Kit.Device.type == DeviceType.CUDA) Assert.True(Kit.IsOn(t, new torch.Device(DeviceType.CUDA, 0)));
    }
}
