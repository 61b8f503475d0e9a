using System.Buffers.Binary;
using AttnKit.Core.Native;
using Xunit;
using static AttnKit.Tests.Native.NativeTestFiles;

namespace AttnKit.Tests.Native;

public class VersionRequirementPatchTests
{
    private const string V32 = "GLIBCXX_3.4.32";

    private static ushort U16(byte[] data, long at) => BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan((int)at));

    [Fact]
    public void Apply_MakesTheRequirementWeakAndUnversionsTheMarker_ChangingOnlyThoseBytes()
    {
        var image = LibTorchSharpLike();
        var original = image.Copy();
        long flags = image.VernauxFlags[$"{LibStdCxx}:{V32}"], versym = image.VersymEntries[Marker];
        Assert.Equal((0, 5), (U16(original, flags), U16(original, versym))); // what the builder wrote

        var patched = VersionRequirementPatch.Apply(original, LibStdCxx, [V32]);

        Assert.NotSame(original, patched);
        Assert.Equal(image.Bytes, original); // the input is untouched
        Assert.Equal(ElfBuilder.VerFlgWeak, U16(patched, flags));
        Assert.Equal(1, U16(patched, versym)); // VER_NDX_GLOBAL
        // 0x0000 -> 0x0002 and 0x0005 -> 0x0001: one byte each, and nothing else.
        Assert.Equal(new[] { flags, versym }.Order(), DifferingOffsets(original, patched));
    }

    [Fact]
    public void Apply_KeepsOtherFlagBitsAndClearsTheHiddenBit()
    {
        // A hidden marker reference (0x8005) and a vernaux with an unrelated flag bit (0x0100).
        var image = new ElfBuilder().Needed(LibStdCxx)
            .Requires(LibStdCxx, "GLIBCXX_3.4.9", 2)
            .Requires(LibStdCxx, V32, 3, flags: 0x0100)
            .Import("_ZSt9terminatev", 2).Import(Marker, 0x8003)
            .Build();
        long flags = image.VernauxFlags[$"{LibStdCxx}:{V32}"], versym = image.VersymEntries[Marker];

        var patched = VersionRequirementPatch.Apply(image.Bytes, LibStdCxx, [V32]);

        Assert.Equal(0x0102, U16(patched, flags));
        Assert.Equal(1, U16(patched, versym));
        Assert.Equal(new[] { flags, versym, versym + 1 }.Order(), DifferingOffsets(image.Bytes, patched)); // 0x8003 -> 0x0001 changes both bytes
    }

    [Fact]
    public void Apply_TwoVersions_ChangesFourBytes()
    {
        var image = new ElfBuilder().Needed(LibStdCxx)
            .Requires(LibStdCxx, "GLIBCXX_3.4.31", 2).Requires(LibStdCxx, V32, 3)
            .Import("_ZSt17marker_for_3_4_31v", 2).Import(Marker, 3).Import("_ZSt9terminatev", 1)
            .Build();
        var allowed = new HashSet<string> { Marker, "_ZSt17marker_for_3_4_31v" };

        var patched = VersionRequirementPatch.Apply(image.Bytes, LibStdCxx, ["GLIBCXX_3.4.31", V32], allowed);

        long[] expected = [image.VernauxFlags[$"{LibStdCxx}:GLIBCXX_3.4.31"], image.VernauxFlags[$"{LibStdCxx}:{V32}"],
                           image.VersymEntries["_ZSt17marker_for_3_4_31v"], image.VersymEntries[Marker]];
        Assert.Equal(expected.Order(), DifferingOffsets(image.Bytes, patched));
        Assert.All(expected.Take(2), at => Assert.Equal(ElfBuilder.VerFlgWeak, U16(patched, at)));
        Assert.All(expected.Skip(2), at => Assert.Equal(1, U16(patched, at)));
    }

    [Fact]
    public void Apply_IsIdempotent()
    {
        var once = VersionRequirementPatch.Apply(LibTorchSharpLike().Bytes, LibStdCxx, [V32]);
        var twice = VersionRequirementPatch.Apply(once, LibStdCxx, [V32]);
        Assert.Equal(once, twice);
    }

    [Fact]
    public void Apply_RefusesWhenARealSymbolUsesTheVersion()
    {
        var image = LibTorchSharpLike(realUserOf32: true);
        var original = image.Copy();
        var e = Assert.Throws<ArgumentException>(() => VersionRequirementPatch.Apply(original, LibStdCxx, [V32]));
        Assert.Contains(RealUser, e.Message);
        Assert.Contains(V32, e.Message);
        Assert.DoesNotContain(Marker, e.Message); // the marker is allowed; only the real user is named
        Assert.Equal(image.Bytes, original);
    }

    [Fact]
    public void Apply_RefusesWhenTheMarkerNameIsDefinedHereRatherThanImported()
    {
        var image = new ElfBuilder().Needed(LibStdCxx).Requires(LibStdCxx, V32, 2).Export(Marker, 2).Build();
        var e = Assert.Throws<ArgumentException>(() => VersionRequirementPatch.Apply(image.Bytes, LibStdCxx, [V32]));
        Assert.Contains(Marker, e.Message);
    }

    [Theory]
    [InlineData(LibStdCxx, "GLIBCXX_3.4.33")] // never required
    [InlineData("libc.so.6", V32)]             // required, but from another file
    public void Apply_RefusesAVersionThatIsNotRequired(string library, string version)
    {
        var image = LibTorchSharpLike();
        var e = Assert.Throws<ArgumentException>(() => VersionRequirementPatch.Apply(image.Bytes, library, [version]));
        Assert.IsNotType<ElfFormatException>(e);
        Assert.Contains(version, e.Message);
        Assert.Contains(library, e.Message);
    }

    [Fact]
    public void Apply_RefusesAnEmptyVersionList()
    {
        Assert.Throws<ArgumentException>(() => VersionRequirementPatch.Apply(LibTorchSharpLike().Bytes, LibStdCxx, []));
    }

    [Fact]
    public void Requirements_ListsOnlyThatLibrarysVersions()
    {
        var elf = ElfFile.Parse(LibTorchSharpLike().Bytes);
        Assert.Equal(["GLIBCXX_3.4.30", "GLIBCXX_3.4.9", V32], VersionRequirementPatch.Requirements(elf, LibStdCxx).Select(v => v.Version));
        Assert.Equal(["GLIBC_2.2.5"], VersionRequirementPatch.Requirements(elf, "libc.so.6").Select(v => v.Version));
        Assert.Empty(VersionRequirementPatch.Requirements(elf, "libm.so.6"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(12)]
    [InlineData(200)]
    public void Apply_MalformedInput_ThrowsElfFormatExceptionAndLeavesTheInputAlone(int cut)
    {
        var image = LibTorchSharpLike();
        var input = image.Bytes[..cut];
        var before = (byte[])input.Clone();
        Assert.Throws<ElfFormatException>(() => VersionRequirementPatch.Apply(input, LibStdCxx, [V32]));
        Assert.Equal(before, input);
    }

    [Fact]
    public void Apply_CorruptVerneed_ThrowsElfFormatExceptionAndLeavesTheInputAlone()
    {
        var image = LibTorchSharpLike();
        var input = image.Copy();
        BinaryPrimitives.WriteUInt32LittleEndian(input.AsSpan((int)image.Sections[".gnu.version_r"].Offset + 12), 0x10000); // vn_next
        var before = (byte[])input.Clone();
        var e = Assert.Throws<ElfFormatException>(() => VersionRequirementPatch.Apply(input, LibStdCxx, [V32]));
        Assert.Contains(".gnu.version_r", e.Message);
        Assert.Equal(before, input);
    }

    [Fact]
    public void Apply_RealTorchSharpNative_GivesACopyThatParsesWithTheRequirementWeak()
    {
        var path = TorchSharpNative();
        var original = File.ReadAllBytes(path);
        var before = ElfFile.Parse((byte[])original.Clone());
        var need = before.VersionNeeds.Single(v => v.File == LibStdCxx && v.Version == V32);
        var marker = before.DynamicSymbols.Single(s => s.Name == Marker);

        var patched = VersionRequirementPatch.Apply(original, LibStdCxx, [V32]);
        var after = ElfFile.Parse(patched);

        Assert.True(after.VersionNeeds.Single(v => v.Version == V32).IsWeak);
        Assert.Equal(1, after.DynamicSymbols.Single(s => s.Name == Marker).VersionIndex);
        // Every other requirement, symbol and section is as it was.
        Assert.Equal(before.VersionNeeds.Where(v => v.Version != V32), after.VersionNeeds.Where(v => v.Version != V32));
        Assert.Equal(before.DynamicSymbols.Where(s => s.Name != Marker), after.DynamicSymbols.Where(s => s.Name != Marker));
        Assert.Equal(before.Needed, after.Needed);
        // Only bytes of the two 16-bit fields changed (the flags' low byte and the marker's version entry).
        var changed = DifferingOffsets(original, patched);
        Assert.InRange(changed.Length, 2, 4);
        Assert.Subset(new HashSet<long> { need.FlagsOffset, need.FlagsOffset + 1, marker.VersionEntryOffset, marker.VersionEntryOffset + 1 }, changed.ToHashSet());
        Assert.Equal(File.ReadAllBytes(path), original); // the input array was not written
    }
}
