using Xunit;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using AttnKit.Core.Native;

namespace AttnKit.Tests.Native;

/// <summary>Stand-in images shared by the native tests, the real files of this machine, and a temporary folder.</summary>
internal static class NativeTestFiles
{
    public const string Marker = "_ZSt21ios_base_library_initv";
    public const string LibStdCxx = "libstdc++.so.6";
    /// <summary>A symbol that really needs a newer libstdc++ (std::chrono::tzdb_list, GCC 13's GLIBCXX_3.4.31).</summary>
    public const string RealUser = "_ZNKSt6chrono9tzdb_list5frontEv";

    /// <summary>
    /// A libLibTorchSharp.so stand-in: needs GLIBCXX_3.4.30 (index 3), GLIBCXX_3.4.9 (4), GLIBCXX_3.4.32 (5) from
    /// libstdc++ and GLIBC_2.2.5 (2) from libc; the marker alone uses index 5, unless <paramref name="realUserOf32"/>.
    /// </summary>
    public static ElfImage LibTorchSharpLike(bool realUserOf32 = false, ushort markerVersym = 5)
    {
        var b = new ElfBuilder().Soname("libLibTorchSharp.so")
            .Needed("libtorch.so", "libc10.so", "libtorch_cpu.so", LibStdCxx, "libc.so.6")
            .Requires("libc.so.6", "GLIBC_2.2.5", 2)
            .Requires(LibStdCxx, "GLIBCXX_3.4.30", 3)
            .Requires(LibStdCxx, "GLIBCXX_3.4.9", 4)
            .Requires(LibStdCxx, "GLIBCXX_3.4.32", 5)
            .Import("memcpy", 2)
            .Import("_ZNSt6thread15_M_start_threadESt10unique_ptrINS_6_StateESt14default_deleteIS1_EEPFvvE", 3)
            .Import("_ZSt9terminatev", 4)
            .Import(Marker, markerVersym)
            .Export("THSTensor_ones", 1)
            .Export("THSTensor_sum", 1);
        if (realUserOf32) b.Import(RealUser, 5);
        return b.Build();
    }

    /// <summary>A libstdc++.so.6 stand-in defining GLIBCXX_3.4 .. GLIBCXX_3.4.<paramref name="newest"/> (each the child of the one before) and CXXABI_1.3.</summary>
    public static ElfImage LibStdCxxLike(int newest)
    {
        var b = new ElfBuilder().Soname(LibStdCxx).Needed("libm.so.6", "libc.so.6").Defines("GLIBCXX_3.4");
        for (int i = 1; i <= newest; i++) b.Defines($"GLIBCXX_3.4.{i}", i == 1 ? "GLIBCXX_3.4" : $"GLIBCXX_3.4.{i - 1}");
        b.Defines("CXXABI_1.3");
        return b.Export("_ZSt9terminatev", 2).Export("_ZNSt6thread15_M_start_threadESt10unique_ptrINS_6_StateESt14default_deleteIS1_EEPFvvE", (ushort)(2 + newest)).Build();
    }

    /// <summary>The libstdc++ this process uses (as NativeCompatibility finds it), or a skip.</summary>
    public static string SystemLibStdCxx()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("not Linux: there is no system libstdc++.so.6 to read");
        var path = NativeCompatibility.FindLibStdCxx();
        if (path is null) Assert.Skip("no libstdc++.so.6 found in /proc/self/maps, LD_LIBRARY_PATH or the usual folders");
        return path;
    }

    /// <summary>The TorchSharp-cpu native library copied to the test's output folder, or a skip.</summary>
    public static string TorchSharpNative()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            Assert.Skip("the linux-x64 TorchSharp native library is only examined on linux-x64");
        var path = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!File.Exists(path)) Assert.Skip($"{path} is not in the test output");
        return path;
    }

    /// <summary>True when <paramref name="data"/> holds <paramref name="s"/> as a NUL-delimited string (as string tables hold names).</summary>
    public static bool ContainsCString(byte[] data, string s) => data.AsSpan().IndexOf(Encoding.ASCII.GetBytes("\0" + s + "\0")) >= 0;

    /// <summary>Offsets where two equally long arrays differ.</summary>
    public static long[] DifferingOffsets(byte[] a, byte[] b)
    {
        Assert.Equal(a.Length, b.Length);
        return Enumerable.Range(0, a.Length).Where(i => a[i] != b[i]).Select(i => (long)i).ToArray();
    }

    public static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}

/// <summary>A fresh folder under the temp folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateDirectory(System.IO.Path.Combine(System.IO.Path.GetTempPath(), "attnkit-native-tests-" + Guid.NewGuid().ToString("N"))).FullName;
    public string File(string name, byte[] bytes)
    {
        var p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        System.IO.File.WriteAllBytes(p, bytes);
        return p;
    }
    /// <summary>Every file below the folder: relative path, length, last write time and SHA-256.</summary>
    public string[] Snapshot() => Directory.EnumerateFileSystemEntries(Path, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
        .Select(p => System.IO.File.Exists(p)
            ? $"{System.IO.Path.GetRelativePath(Path, p)} {new FileInfo(p).Length} {System.IO.File.GetLastWriteTimeUtc(p):O} {NativeTestFiles.Sha256(p)}"
            : System.IO.Path.GetRelativePath(Path, p) + "/")
        .ToArray();
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
