using System.Buffers.Binary;
using AttnKit.Core.Native;
using TorchSharp;
using Xunit;
using static AttnKit.Tests.Native.NativeTestFiles;

namespace AttnKit.Tests.Native;

public class NativeCompatibilityTests
{
    private const string V32 = "GLIBCXX_3.4.32";

    /// <summary>Where WritePatchedCopy must put the copy of <paramref name="original"/>: computed here from the file's bytes.</summary>
    private static string ExpectedTarget(string cacheRoot, string original) =>
        Path.Combine(cacheRoot, "native", Sha256(original)[..16], Path.GetFileName(original));

    // ---- Plan ----

    [Fact]
    public void Plan_LibStdCxxDefiningTheVersions_IsNotNeededAndWritesNothing()
    {
        using var temp = new TempFolder();
        var torchLike = temp.File("torch/libLibTorchSharp.so", LibTorchSharpLike().Bytes);
        var std = temp.File("lib/libstdc++.so.6", LibStdCxxLike(32).Bytes);
        var before = temp.Snapshot();

        var plan = NativeCompatibility.Plan(torchLike, std);

        Assert.False(plan.Needed);
        Assert.False(plan.Applied);
        Assert.Null(plan.Error);
        Assert.Null(plan.PatchedCopy);
        Assert.Empty(plan.MissingVersions!);
        Assert.Equal((torchLike, std), (plan.LibTorchSharp, plan.LibStdCxx));
        Assert.Contains("newest GLIBCXX_3.4.32", plan.Summary); // numeric order: 3.4.32 > 3.4.9
        // Plan writes nothing: not beside the files, and not into the cache where a patched copy would go.
        Assert.Equal(before, temp.Snapshot());
        Assert.False(Directory.Exists(Path.GetDirectoryName(ExpectedTarget(NativeCompatibility.CacheRoot(), torchLike))));
    }

    [Fact]
    public void Plan_LibStdCxxStoppingAt3430_NeedsThePatchForTheMarkerOnly()
    {
        using var temp = new TempFolder();
        var torchLike = temp.File("libLibTorchSharp.so", LibTorchSharpLike().Bytes);
        var std = temp.File("libstdc++.so.6", LibStdCxxLike(30).Bytes);
        var before = temp.Snapshot();

        var plan = NativeCompatibility.Plan(torchLike, std);

        Assert.True(plan.Needed);
        Assert.False(plan.Applied); // Plan only decides
        Assert.Null(plan.Error);
        Assert.Equal([V32], plan.MissingVersions!);
        Assert.Contains("stops at GLIBCXX_3.4.30", plan.Summary);
        Assert.Contains(V32, plan.Summary);
        Assert.Equal(before, temp.Snapshot());
    }

    [Fact]
    public void Plan_MissingVersionUsedByARealSymbol_ReportsThatANewerLibStdCxxIsNeeded()
    {
        using var temp = new TempFolder();
        var torchLike = temp.File("libLibTorchSharp.so", LibTorchSharpLike(realUserOf32: true).Bytes);
        var std = temp.File("libstdc++.so.6", LibStdCxxLike(30).Bytes);

        var plan = NativeCompatibility.Plan(torchLike, std);

        Assert.True(plan.Needed);
        Assert.False(plan.Applied);
        Assert.Equal([V32], plan.MissingVersions!);
        Assert.NotNull(plan.Error);
        Assert.Contains("install a newer libstdc++", plan.Error);
        Assert.Contains(RealUser, plan.Error);
    }

    [Fact]
    public void Plan_OlderLibStdCxx_ListsEveryMissingVersion_AndBlocksOnTheRealUsers()
    {
        using var temp = new TempFolder();
        var torchLike = temp.File("libLibTorchSharp.so", LibTorchSharpLike().Bytes);
        var std = temp.File("libstdc++.so.6", LibStdCxxLike(29).Bytes); // lacks 3.4.30, which std::thread uses

        var plan = NativeCompatibility.Plan(torchLike, std);

        Assert.True(plan.Needed);
        Assert.Equal(["GLIBCXX_3.4.30", V32], plan.MissingVersions!);
        Assert.Contains("_ZNSt6thread15_M_start_thread", plan.Error);
    }

    [Fact]
    public void Plan_WithoutALibStdCxx_LeavesLoadingAlone()
    {
        using var temp = new TempFolder();
        var plan = NativeCompatibility.Plan(temp.File("libLibTorchSharp.so", LibTorchSharpLike().Bytes), null);
        Assert.False(plan.Needed);
        Assert.Null(plan.Error);
    }

    [Fact]
    public void Plan_OnAnAlreadyPatchedCopy_IsNotNeeded()
    {
        using var temp = new TempFolder();
        var patched = VersionRequirementPatch.Apply(LibTorchSharpLike().Bytes, LibStdCxx, [V32]);
        var plan = NativeCompatibility.Plan(temp.File("libLibTorchSharp.so", patched), temp.File("libstdc++.so.6", LibStdCxxLike(30).Bytes));
        Assert.False(plan.Needed); // the weak requirement is not counted
        Assert.Empty(plan.MissingVersions!);
    }

    [Fact]
    public void Plan_LibraryRequiringNothingFromLibStdCxx_IsNotNeeded()
    {
        using var temp = new TempFolder();
        var plain = new ElfBuilder().Needed("libc.so.6").Requires("libc.so.6", "GLIBC_2.34", 2).Import("memcpy", 2).Build();
        var plan = NativeCompatibility.Plan(temp.File("libplain.so", plain.Bytes), temp.File("libstdc++.so.6", LibStdCxxLike(10).Bytes));
        Assert.False(plan.Needed);
        Assert.Contains("requires no libstdc++ versions", plan.Summary);
    }

    [Fact]
    public void VersionNameComparer_OrdersByNumericParts()
    {
        string[] names = ["GLIBCXX_3.4.30", "GLIBCXX_3.4", "GLIBCXX_3.4.9", "GLIBCXX_3.4.32", "GLIBCXX_3.4.10", "GLIBCXX_3.4.1"];
        Assert.Equal(["GLIBCXX_3.4", "GLIBCXX_3.4.1", "GLIBCXX_3.4.9", "GLIBCXX_3.4.10", "GLIBCXX_3.4.30", "GLIBCXX_3.4.32"],
            names.Order(NativeCompatibility.VersionNameComparer.Instance));
    }

    // ---- WritePatchedCopy ----

    [Fact]
    public void WritePatchedCopy_WritesThePatchedBytesUnderTheHashOfTheOriginal()
    {
        using var temp = new TempFolder();
        var image = LibTorchSharpLike();
        var original = temp.File("pkg/libLibTorchSharp.so", image.Bytes);
        var root = Path.Combine(temp.Path, "cache");

        var target = NativeCompatibility.WritePatchedCopy(original, [V32], root);

        Assert.Equal(ExpectedTarget(root, original), target);
        var written = File.ReadAllBytes(target);
        long flags = image.VernauxFlags[$"{LibStdCxx}:{V32}"], versym = image.VersymEntries[Marker];
        Assert.Equal(new[] { flags, versym }.Order(), DifferingOffsets(image.Bytes, written));
        Assert.Equal(ElfBuilder.VerFlgWeak, BinaryPrimitives.ReadUInt16LittleEndian(written.AsSpan((int)flags)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(written.AsSpan((int)versym)));
        Assert.Equal(image.Bytes, File.ReadAllBytes(original));
        Assert.Equal([Path.GetFileName(target)], Directory.GetFiles(Path.GetDirectoryName(target)!).Select(Path.GetFileName)); // no temp files left
    }

    [Fact]
    public void WritePatchedCopy_SecondCall_ReusesTheFileWithoutRewritingIt()
    {
        using var temp = new TempFolder();
        var original = temp.File("libLibTorchSharp.so", LibTorchSharpLike().Bytes);
        var root = Path.Combine(temp.Path, "cache");
        var first = NativeCompatibility.WritePatchedCopy(original, [V32], root);
        var stamp = new DateTime(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(first, stamp); // a rewrite would move it to now
        var content = File.ReadAllBytes(first);

        var second = NativeCompatibility.WritePatchedCopy(original, [V32], root);

        Assert.Equal(first, second);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(second));
        Assert.Equal(content, File.ReadAllBytes(second));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("truncated")]
    [InlineData("unpatched")]
    public void WritePatchedCopy_ReplacesACorruptCachedFileAtomically(string corruption)
    {
        using var temp = new TempFolder();
        var image = LibTorchSharpLike();
        var original = temp.File("libLibTorchSharp.so", image.Bytes);
        var root = Path.Combine(temp.Path, "cache");
        var target = NativeCompatibility.WritePatchedCopy(original, [V32], root);
        var good = File.ReadAllBytes(target);
        byte[] bad = corruption switch
        {
            "garbage" => "this is not the library"u8.ToArray(),
            "truncated" => good[..(good.Length / 2)],
            _ => image.Bytes,
        };
        File.WriteAllBytes(target, bad);
        var originalHash = Sha256(original);

        // A reader holding the corrupt file open keeps seeing it whole: the new file is renamed over it, not written into it.
        using (var reader = new FileStream(target, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            var again = NativeCompatibility.WritePatchedCopy(original, [V32], root);

            Assert.Equal(target, again);
            Assert.Equal(good, File.ReadAllBytes(target));
            var seen = new byte[bad.Length + 16];
            int n = reader.ReadAtLeast(seen, seen.Length, throwOnEndOfStream: false);
            Assert.Equal(bad, seen[..n]);
        }
        Assert.Equal(originalHash, Sha256(original));
        Assert.Equal([Path.GetFileName(target)], Directory.GetFiles(Path.GetDirectoryName(target)!).Select(Path.GetFileName));
    }

    [Fact]
    public void WritePatchedCopy_NeverModifiesTheOriginal()
    {
        using var temp = new TempFolder();
        var original = temp.File("libLibTorchSharp.so", LibTorchSharpLike().Bytes);
        var stamp = new DateTime(2002, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(original, stamp);
        var hash = Sha256(original);
        var root = Path.Combine(temp.Path, "cache");

        NativeCompatibility.WritePatchedCopy(original, [V32], root);
        NativeCompatibility.WritePatchedCopy(original, [V32], root);

        Assert.Equal(hash, Sha256(original));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(original));
    }

    [Fact]
    public void WritePatchedCopy_WhenThePatchRefuses_WritesNothing()
    {
        using var temp = new TempFolder();
        var original = temp.File("libLibTorchSharp.so", LibTorchSharpLike(realUserOf32: true).Bytes);
        var root = Path.Combine(temp.Path, "cache");
        var e = Assert.Throws<ArgumentException>(() => NativeCompatibility.WritePatchedCopy(original, [V32], root));
        Assert.Contains(RealUser, e.Message);
        Assert.False(Directory.Exists(root));
    }

    // ---- this machine ----

    [Fact]
    public void FindLibTorchSharp_FindsTheNativeLibraryOfTheTestOutput()
    {
        var expected = TorchSharpNative();
        var found = NativeCompatibility.FindLibTorchSharp(typeof(torch).Assembly);
        Assert.NotNull(found);
        Assert.Equal("libLibTorchSharp.so", Path.GetFileName(found));
        Assert.Equal(Sha256(expected), Sha256(found));
    }

    /// <summary>
    /// The live check. The compatibility step runs once per process (the module initializer or the first Report),
    /// so this test reads its result and checks it against the machine, whatever ran before it.
    /// </summary>
    [Fact]
    public void Report_OnThisMachine_TorchSharpBindsToThePatchedCopyExactlyWhenNeeded()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("the compatibility step only acts on Linux");
        var report = NativeCompatibility.Report; // before this test's own first use of TorchSharp
        Assert.True(report.Error is null, report.Summary + "\n" + report.Error);
        var libStdCxx = report.LibStdCxx ?? NativeCompatibility.FindLibStdCxx();
        if (libStdCxx is null) Assert.Skip("no libstdc++.so.6 on this machine to compare with");
        if (report.LibTorchSharp is null) Assert.Skip("TorchSharp's native library was not found: " + report.Summary);
        var libStdCxxBytes = File.ReadAllBytes(libStdCxx);
        bool has3432 = ContainsCString(libStdCxxBytes, V32); // an independent look at the system library's string table

        Assert.Equal(6f, torch.ones(2, 3).sum().item<float>());

        var mapped = File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/') is var i and >= 0 ? line[i..] : "")
            .Where(p => Path.GetFileName(p) == "libLibTorchSharp.so")
            .Distinct().ToArray();
        var cacheNative = Path.Combine(NativeCompatibility.CacheRoot(), "native") + Path.DirectorySeparatorChar;
        if (!has3432)
        {
            Assert.True(report.Needed, report.Summary);
            Assert.True(report.Applied, report.Summary);
            Assert.Contains(V32, report.MissingVersions!);
            Assert.All(report.MissingVersions!, v => Assert.False(ContainsCString(libStdCxxBytes, v), v));
            Assert.NotNull(report.PatchedCopy);
            Assert.StartsWith(cacheNative, report.PatchedCopy);
            Assert.Equal([report.PatchedCopy], mapped); // the copy is loaded, and the original is not
            Assert.NotEqual(report.LibTorchSharp, report.PatchedCopy);
            var changed = DifferingOffsets(File.ReadAllBytes(report.LibTorchSharp), File.ReadAllBytes(report.PatchedCopy));
            Assert.InRange(changed.Length, 2, 4 * report.MissingVersions!.Count);
        }
        else
        {
            Assert.False(report.Needed, report.Summary);
            Assert.False(report.Applied);
            Assert.Null(report.PatchedCopy);
            Assert.NotEmpty(mapped);
            Assert.DoesNotContain(mapped, p => p.StartsWith(cacheNative, StringComparison.Ordinal));
        }
    }
}
