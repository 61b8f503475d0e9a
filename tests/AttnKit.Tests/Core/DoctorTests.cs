using AttnKit.Core;
using AttnKit.Core.Native;
using TorchSharp;

namespace AttnKit.Tests.Core;

public class DoctorTests
{
    [Fact]
    public void Doctor_reports_every_check_and_all_pass_here()
    {
        var checks = Doctor.Run();
        Assert.Equal(["platform", "Linux compatibility step", "TorchSharp", "libtorch backend", "CUDA", "device", "smoke test", "fused kernels"], checks.Select(c => c.Name));
        Assert.All(checks, c => Assert.True(c.Ok, $"{c.Name}: {c.Detail}"));
        Assert.Contains("TorchSharp 0.107.0", checks.Single(c => c.Name == "TorchSharp").Detail);
        var compat = checks.Single(c => c.Name == "Linux compatibility step").Detail;
        Assert.Contains("torchscript", checks.Single(c => c.Name == "fused kernels").Detail);
        Assert.StartsWith(NativeCompatibility.Report.Applied ? "needed and used" : "not needed", compat);
        Assert.Contains(torch.cuda.is_available() ? "CUDA build" : "CPU build", checks.Single(c => c.Name == "libtorch backend").Detail);
    }

    [Fact]
    public void A_forced_device_that_cannot_load_fails_with_a_fix()
    {
        if (torch.cuda.is_available()) Assert.Skip("CUDA is available here");
        var device = Doctor.Run(device: "cuda").Single(c => c.Name == "device");
        Assert.False(device.Ok);
        Assert.NotNull(device.Fix);
    }

    [Fact]
    public void The_smoke_test_passes_on_the_kit_device() => Assert.True(Doctor.SmokeTest(Kit.Device).Ok);
}
