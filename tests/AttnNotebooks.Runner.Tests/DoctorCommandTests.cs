namespace AttnNotebooks.Runner.Tests;

public class DoctorCommandTests
{
    [Fact]
    public void Doctor_reports_what_loaded_and_exits_zero()
    {
        var (code, output) = RunnerProcess.Run(null, "doctor");
        Assert.True(code == 0, output);
        foreach (var fragment in new[] { "Linux compatibility step", "TorchSharp 0.107.0", "libtorch backend", "smoke test", "relative RMS error", "doctor: all is well" })
            Assert.Contains(fragment, output);
        if (OperatingSystem.IsLinux() && File.Exists("/etc/debian_version") && File.ReadAllText("/etc/debian_version").StartsWith("12", StringComparison.Ordinal))
            Assert.Contains("needed and used", output); // Debian 12's libstdc++ stops at GLIBCXX_3.4.30
    }

    [Fact]
    public void Doctor_on_the_cpu_says_so()
    {
        var (code, output) = RunnerProcess.Run(null, "doctor", "--device", "cpu");
        Assert.True(code == 0, output);
        Assert.Contains("ATTN_DEVICE=cpu", output);
        Assert.Contains("on cpu", output);
    }

    [Fact]
    public void Doctor_fails_with_a_fix_when_cuda_is_forced_where_it_cannot_load()
    {
        var (probe, text) = RunnerProcess.Run(null, "doctor");
        if (text.Contains("CUDA build", StringComparison.Ordinal) && text.Contains("available:", StringComparison.Ordinal) && !text.Contains("not available", StringComparison.Ordinal))
            Assert.Skip("CUDA is available here");
        var (code, output) = RunnerProcess.Run(new Dictionary<string, string?> { ["ATTN_DEVICE"] = "cuda" }, "doctor");
        Assert.Equal(1, code);
        Assert.Contains("forces CUDA, but it cannot be used", output);
        Assert.Contains("fix:", output);
    }

    [Fact]
    public void Doctor_refuses_an_unknown_device()
    {
        var (code, output) = RunnerProcess.Run(null, "doctor", "--device", "tpu");
        Assert.NotEqual(0, code);
        Assert.Contains("tpu", output);
    }
}
