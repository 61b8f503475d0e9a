using AttnKit.Core.Native;

namespace AttnKit.Tests.Native;

/// <summary>Where the patched copy's dependencies are looked for: an app's output folder, or the NuGet packages layout of notebook hosts.</summary>
public class DependencySearchTests
{
    static readonly string[] Needed = ["libtorch.so", "libc10.so", "libtorch_cpu.so", "libstdc++.so.6", "libm.so.6", "libc.so.6", "ld-linux-x86-64.so.2"];

    [Fact]
    public void In_an_app_output_folder_dependencies_are_beside_the_library()
    {
        using var tmp = new TempFolder();
        var lib = tmp.File("bin/runtimes/linux-x64/native/libLibTorchSharp.so", [1]);
        foreach (var n in new[] { "libtorch.so", "libc10.so", "libtorch_cpu.so" }) tmp.File($"bin/runtimes/linux-x64/native/{n}", [1]);
        var found = NativeCompatibility.FindDependencies(lib, Needed);
        Assert.Equal(new[] { "libtorch.so", "libc10.so", "libtorch_cpu.so" }.Select(n => Path.Combine(tmp.Path, "bin/runtimes/linux-x64/native", n)), found);
    }

    [Fact]
    public void In_the_nuget_layout_dependencies_come_from_the_newest_libtorch_package()
    {
        using var tmp = new TempFolder();
        var lib = tmp.File("packages/torchsharp/0.107.0/runtimes/linux-x64/native/libLibTorchSharp.so", [1]);
        foreach (var version in new[] { "2.9.1", "2.10.0" })
            foreach (var n in new[] { "libtorch.so", "libc10.so", "libtorch_cpu.so" })
                tmp.File($"packages/libtorch-cpu-linux-x64/{version}/runtimes/linux-x64/native/{n}", [1]);
        tmp.File("packages/libtorch-cpu-osx-arm64/2.10.0/runtimes/osx-arm64/native/libtorch.so", [1]);
        var found = NativeCompatibility.FindDependencies(lib, Needed);
        var expected = Path.Combine(tmp.Path, "packages/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native");
        Assert.Equal(new[] { "libtorch.so", "libc10.so", "libtorch_cpu.so" }.Select(n => Path.Combine(expected, n)), found);
    }

    [Fact]
    public void Beside_wins_and_names_found_nowhere_are_left_to_the_loader()
    {
        using var tmp = new TempFolder();
        var lib = tmp.File("packages/torchsharp/0.107.0/runtimes/linux-x64/native/libLibTorchSharp.so", [1]);
        var beside = tmp.File("packages/torchsharp/0.107.0/runtimes/linux-x64/native/libc10.so", [1]);
        var inPackage = tmp.File("packages/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native/libc10.so", [1]);
        var found = NativeCompatibility.FindDependencies(lib, Needed);
        Assert.Equal([beside], found);
        Assert.DoesNotContain(inPackage, found);
    }

    [Fact]
    public void Outside_both_layouts_nothing_is_found()
    {
        using var tmp = new TempFolder();
        var lib = tmp.File("somewhere/libLibTorchSharp.so", [1]);
        tmp.File("libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native/libtorch.so", [1]);
        Assert.Empty(NativeCompatibility.FindDependencies(lib, Needed));
    }
}
