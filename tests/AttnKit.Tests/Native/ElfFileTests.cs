using System.Buffers.Binary;
using System.Text;
using AttnKit.Core.Native;
using FsCheck.Xunit;
using Xunit;
using static AttnKit.Tests.Native.NativeTestFiles;

namespace AttnKit.Tests.Native;

public class ElfFileTests
{
    // Elf64_Shdr field offsets (see ElfBuilder).
    private const int ShOffset = 24, ShSize = 32, ShLink = 40;

    /// <summary>Needs from two files (one weak), two definitions (one with a parent), imports, exports, a hidden version.</summary>
    private static ElfImage Sample(bool headersFirst = false, bool versym = true)
    {
        var b = new ElfBuilder().Soname("libdemo.so.1").Needed(LibStdCxx, "libc.so.6", "libtorch_cpu.so")
            .Requires(LibStdCxx, "GLIBCXX_3.4.30", 3)
            .Requires("libc.so.6", "GLIBC_2.34", 4)
            .Requires(LibStdCxx, "GLIBCXX_3.4.32", 5, ElfBuilder.VerFlgWeak)
            .Defines("DEMO_1.0").Defines("DEMO_1.1", parent: "DEMO_1.0") // indices 2 and 3 (the base version is 1)
            .Import(Marker, 5).Import("memcpy", 4).Import("_ZSt9terminatev", 3)
            .Export("demo_new", 2).Export("demo_hidden", 0x8003).Export("demo_plain", 1);
        if (headersFirst) b.SectionHeadersFirst();
        if (!versym) b.WithoutVersymTable();
        return b.Build();
    }

    private static ElfFormatException ParseFails(byte[] data) => Assert.Throws<ElfFormatException>(() => ElfFile.Parse(data));

    private static byte[] Patched(byte[] source, long at, ulong value, int width)
    {
        var copy = (byte[])source.Clone();
        var span = copy.AsSpan((int)at);
        switch (width)
        {
            case 2: BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)value); break;
            case 4: BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)value); break;
            default: BinaryPrimitives.WriteUInt64LittleEndian(span, value); break;
        }
        return copy;
    }

    // ---- round trips ----

    [Fact]
    public void Parse_ReadsNeededSonameAndMachine()
    {
        var elf = ElfFile.Parse(Sample().Bytes);
        Assert.Equal([LibStdCxx, "libc.so.6", "libtorch_cpu.so"], elf.Needed);
        Assert.Equal("libdemo.so.1", elf.Soname);
        Assert.Equal((ushort)62, elf.Machine);
    }

    [Fact]
    public void Parse_WithoutSoname_HasNullSoname()
    {
        var elf = ElfFile.Parse(new ElfBuilder().Needed("libc.so.6").Build().Bytes);
        Assert.Null(elf.Soname);
        Assert.Equal(["libc.so.6"], elf.Needed);
        Assert.Empty(elf.VersionNeeds);
        Assert.Empty(elf.VersionDefinitions);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_ReadsVersionNeedsWithFileFlagsIndexAndFlagsOffset(bool headersFirst)
    {
        var image = Sample(headersFirst);
        var elf = ElfFile.Parse(image.Bytes);
        // Grouped by file in first-mention order, as the builder wrote them.
        Assert.Equal(
            [
                new ElfVersionNeed(LibStdCxx, "GLIBCXX_3.4.30", 0, 3, image.VernauxFlags[$"{LibStdCxx}:GLIBCXX_3.4.30"]),
                new ElfVersionNeed(LibStdCxx, "GLIBCXX_3.4.32", 2, 5, image.VernauxFlags[$"{LibStdCxx}:GLIBCXX_3.4.32"]),
                new ElfVersionNeed("libc.so.6", "GLIBC_2.34", 0, 4, image.VernauxFlags["libc.so.6:GLIBC_2.34"]),
            ],
            elf.VersionNeeds);
        Assert.Equal([false, true, false], elf.VersionNeeds.Select(v => v.IsWeak));
    }

    [Fact]
    public void Parse_ReadsVersionDefinitions_BaseVersionFirst()
    {
        var elf = ElfFile.Parse(Sample().Bytes);
        Assert.Equal(["libdemo.so.1", "DEMO_1.0", "DEMO_1.1"], elf.VersionDefinitions);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_ReadsSymbolsWithUndefinedFlagVersionAndEntryOffset(bool headersFirst)
    {
        var image = Sample(headersFirst);
        var elf = ElfFile.Parse(image.Bytes);
        long versym0 = image.Sections[".gnu.version"].Offset;
        Assert.Equal(
            [
                new ElfDynamicSymbol("", true, 0, versym0), // the null symbol
                new ElfDynamicSymbol(Marker, true, 5, image.VersymEntries[Marker]),
                new ElfDynamicSymbol("memcpy", true, 4, image.VersymEntries["memcpy"]),
                new ElfDynamicSymbol("_ZSt9terminatev", true, 3, image.VersymEntries["_ZSt9terminatev"]),
                new ElfDynamicSymbol("demo_new", false, 2, image.VersymEntries["demo_new"]),
                new ElfDynamicSymbol("demo_hidden", false, 3, image.VersymEntries["demo_hidden"]), // 0x8003 without the hidden bit
                new ElfDynamicSymbol("demo_plain", false, 1, image.VersymEntries["demo_plain"]),
            ],
            elf.DynamicSymbols);
        Assert.Equal([Marker], elf.SymbolsWithVersion(5).Select(s => s.Name));
        Assert.Equal(["_ZSt9terminatev", "demo_hidden"], elf.SymbolsWithVersion(3).Select(s => s.Name));
        Assert.Empty(elf.SymbolsWithVersion(9));
    }

    [Fact]
    public void Parse_WithoutVersymTable_SymbolsHaveNoVersion()
    {
        var elf = ElfFile.Parse(Sample(versym: false).Bytes);
        Assert.Equal(7, elf.DynamicSymbols.Count);
        Assert.All(elf.DynamicSymbols, s => Assert.Equal((-1, -1L), (s.VersionIndex, s.VersionEntryOffset)));
        Assert.Equal(3, elf.VersionNeeds.Count);
    }

    [Fact]
    public void Parse_ReadsTheSectionTable()
    {
        var image = Sample();
        var elf = ElfFile.Parse(image.Bytes);
        Assert.Equal(image.SectionNames, elf.Sections.Select(s => s.Name));
        Assert.Equal(Enumerable.Range(0, image.SectionNames.Count), elf.Sections.Select(s => s.Index));
        var dynsym = elf.Sections[image.IndexOf(".dynsym")];
        Assert.Equal((ElfFile.SHT_DYNSYM, image.Sections[".dynsym"].Offset, image.Sections[".dynsym"].Size, image.IndexOf(".dynstr"), 1u, 24L),
            (dynsym.Type, dynsym.Offset, dynsym.Size, dynsym.Link, dynsym.Info, dynsym.EntrySize));
        var verneed = elf.Sections[image.IndexOf(".gnu.version_r")];
        Assert.Equal((ElfFile.SHT_GNU_VERNEED, 2u), (verneed.Type, verneed.Info)); // two files
        Assert.Equal(ElfFile.SHT_GNU_VERDEF, elf.Sections[image.IndexOf(".gnu.version_d")].Type);
        Assert.Equal(ElfFile.SHT_GNU_VERSYM, elf.Sections[image.IndexOf(".gnu.version")].Type);
        Assert.Equal(ElfFile.SHT_DYNAMIC, elf.Sections[image.IndexOf(".dynamic")].Type);
    }

    [Fact]
    public void Read_FromDisk_GivesWhatParseGives()
    {
        using var temp = new TempFolder();
        var image = Sample();
        var elf = ElfFile.Read(temp.File("libdemo.so.1", image.Bytes));
        var parsed = ElfFile.Parse(image.Bytes);
        Assert.Equal(parsed.VersionNeeds, elf.VersionNeeds);
        Assert.Equal(parsed.DynamicSymbols, elf.DynamicSymbols);
        Assert.Equal(parsed.Needed, elf.Needed);
    }

    // ---- the real files of this machine ----

    [Fact]
    public void SystemLibStdCxx_DefinesItsGlibcxxVersions()
    {
        var path = SystemLibStdCxx();
        var bytes = File.ReadAllBytes(path);
        var elf = ElfFile.Read(path);
        Assert.Equal(LibStdCxx, elf.Soname);
        Assert.Equal(LibStdCxx, elf.VersionDefinitions[0]); // the base version names the file
        Assert.Contains("GLIBCXX_3.4", elf.VersionDefinitions); // defined by every libstdc++ since GCC 3.4
        Assert.Contains("CXXABI_1.3", elf.VersionDefinitions);
        Assert.True(elf.VersionDefinitions.Count(d => d.StartsWith("GLIBCXX_3.4.", StringComparison.Ordinal)) >= 20, string.Join(", ", elf.VersionDefinitions));
        // Every name read is in the file's bytes as a C string, and the versions its string table holds are found.
        Assert.All(elf.VersionDefinitions, d => Assert.True(ContainsCString(bytes, d), d));
        foreach (var v in new[] { "GLIBCXX_3.4.21", "GLIBCXX_3.4.29", "GLIBCXX_3.4.30", "GLIBCXX_3.4.32" })
            Assert.Equal(ContainsCString(bytes, v), elf.VersionDefinitions.Contains(v));
        // Its exports carry its versions: std::terminate() is GLIBCXX_3.4.
        int glibcxx34 = elf.VersionDefinitions.ToList().IndexOf("GLIBCXX_3.4") + 1; // verdef indices count from 1
        Assert.Contains(elf.DynamicSymbols, s => s.Name == "_ZSt9terminatev" && !s.IsUndefined && s.VersionIndex == glibcxx34);
    }

    [Fact]
    public void TorchSharpNative_RequiresGlibcxx3432FromLibStdCxx_OnlyForTheMarker()
    {
        var path = TorchSharpNative();
        var bytes = File.ReadAllBytes(path);
        var elf = ElfFile.Read(path);
        Assert.Equal("libLibTorchSharp.so", elf.Soname);
        Assert.Contains("libtorch_cpu.so", elf.Needed);
        Assert.Contains(LibStdCxx, elf.Needed);
        var need = Assert.Single(elf.VersionNeeds, v => v.Version == "GLIBCXX_3.4.32");
        Assert.Equal(LibStdCxx, need.File);
        Assert.False(need.IsWeak);
        var user = Assert.Single(elf.SymbolsWithVersion(need.Index));
        Assert.Equal((Marker, true), (user.Name, user.IsUndefined));
        // Other libstdc++ versions have many users: the single user above is a fact about 3.4.32, not the reader.
        Assert.True(elf.VersionNeeds.Where(v => v.File == LibStdCxx).Sum(v => elf.SymbolsWithVersion(v.Index).Count()) > 50);
        // Cross-check the offsets against the raw bytes: the vernaux's vna_other and vna_name, and the symbol's .gnu.version entry.
        Assert.Equal(need.Index, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)need.FlagsOffset + 2)));
        var dynstr = elf.Sections[elf.Sections.Single(s => s.Name == ".gnu.version_r").Link];
        long name = dynstr.Offset + BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)need.FlagsOffset + 4));
        Assert.Equal("GLIBCXX_3.4.32\0"u8.ToArray(), bytes.AsSpan((int)name, 15).ToArray());
        Assert.Equal(need.Index, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan((int)user.VersionEntryOffset)) & 0x7fff);
    }

    // ---- malformed files ----

    [Fact]
    public void Parse_EmptyFile_Throws()
    {
        var e = ParseFails([]);
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.Contains("empty", e.Message);
    }

    public static TheoryData<string, byte[]> NotElf => new()
    {
        { "text", Encoding.UTF8.GetBytes("#!/bin/sh\necho this is not a shared object, just a script that is long enough\n") },
        { "png", [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0x0D, (byte)'I', (byte)'H', (byte)'D', (byte)'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0] },
        { "zeros", new byte[128] },
        { "elf-like", Encoding.ASCII.GetBytes("ELF\x7f is the wrong order for the magic bytes, padding padding padding padding") },
    };

    [Theory]
    [MemberData(nameof(NotElf))]
    public void Parse_NotAnElfFile_Throws(string kind, byte[] data)
    {
        var e = ParseFails(data);
        Assert.True(e.Message.Contains("not an ELF file"), $"{kind}: {e.Message}");
    }

    [Fact]
    public void Parse_Elf32_Throws()
    {
        var data = Sample().Copy();
        data[4] = 1; // ELFCLASS32
        var e = ParseFails(data);
        Assert.Contains("class 1", e.Message);
        Assert.Contains("64-bit", e.Message);
    }

    [Fact]
    public void Parse_BigEndian_Throws()
    {
        var data = Sample().Copy();
        data[5] = 2; // ELFDATA2MSB
        var e = ParseFails(data);
        Assert.Contains("little-endian", e.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(10)]
    [InlineData(16)]
    [InlineData(40)]
    [InlineData(63)]
    public void Parse_TruncatedInTheHeader_Throws(int length)
    {
        var e = ParseFails(Sample().Bytes[..length]);
        Assert.Contains("truncated", e.Message);
        Assert.DoesNotContain("not an ELF file", e.Message); // it starts like one
    }

    [Fact]
    public void Parse_TruncatedInTheSectionHeaderTable_Throws()
    {
        var image = Sample();
        var e = ParseFails(image.Bytes[..(int)(image.SectionHeaderTable + 100)]);
        Assert.Contains("section header table", e.Message);
    }

    [Fact]
    public void Parse_TruncatedInsideASection_NamesTheSection()
    {
        var image = Sample(headersFirst: true); // the table is intact, the data after it is cut
        var (offset, size) = image.Sections[".dynsym"];
        var e = ParseFails(image.Bytes[..(int)(offset + size / 2)]);
        Assert.Contains($"section {image.IndexOf(".dynsym")}", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_EveryStrictPrefix_ThrowsElfFormatException(bool headersFirst)
    {
        var data = Sample(headersFirst).Bytes;
        ElfFile.Parse(data); // the whole image is fine
        var wrong = new List<string>();
        for (int n = 0; n < data.Length; n++)
        {
            try { ElfFile.Parse(data[..n]); wrong.Add($"{n}: parsed"); }
            catch (ElfFormatException) { }
            catch (Exception e) { wrong.Add($"{n}: {e.GetType().Name}: {e.Message}"); }
        }
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {data.Length} prefixes: " + string.Join("; ", wrong.Take(10)));
    }

    [Fact]
    public void Parse_SectionOffsetPastTheEnd_NamesTheSection()
    {
        var image = Sample();
        var data = Patched(image.Bytes, image.SectionHeader(".gnu.version_r") + ShOffset, (ulong)image.Bytes.Length + 64, 8);
        var e = ParseFails(data);
        Assert.Contains($"section {image.IndexOf(".gnu.version_r")}", e.Message);
    }

    [Theory]
    [InlineData(ShOffset, ulong.MaxValue)]
    [InlineData(ShOffset, 0x8000_0000_0000_0000)]
    [InlineData(ShSize, ulong.MaxValue)]
    [InlineData(ShSize, 0x7fff_ffff_ffff_fff0)]
    public void Parse_HugeSectionOffsetOrSize_Throws(int field, ulong value)
    {
        var image = Sample();
        var e = ParseFails(Patched(image.Bytes, image.SectionHeader(".dynsym") + field, value, 8));
        Assert.Contains($"section {image.IndexOf(".dynsym")}", e.Message);
    }

    [Theory]
    [InlineData(0x28, 0xffff_ffff_ffff_ff00, 8, "section header table")] // e_shoff
    [InlineData(0x28, 0, 8, "no section header table")]
    [InlineData(0x3A, 40, 2, "section header size 40")]                  // e_shentsize
    [InlineData(0x3E, 99, 2, "section name table index 99")]             // e_shstrndx
    public void Parse_CorruptHeaderField_Throws(int offset, ulong value, int width, string expected)
    {
        var e = ParseFails(Patched(Sample().Bytes, offset, value, width));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Parse_SymbolNamePastItsStringTable_Throws()
    {
        var image = Sample();
        var e = ParseFails(Patched(image.Bytes, image.SymbolEntries["memcpy"], 100_000, 4)); // st_name
        Assert.Contains("symbol name", e.Message);
        Assert.Contains("100000", e.Message);
        Assert.Contains("outside its string table", e.Message);
    }

    [Fact]
    public void Parse_NeededNamePastItsStringTable_Throws()
    {
        var image = Sample();
        var e = ParseFails(Patched(image.Bytes, image.Sections[".dynamic"].Offset + 8, 0xffff_ffff_ffff, 8)); // the first d_val
        Assert.Contains("DT_NEEDED", e.Message);
    }

    [Fact]
    public void Parse_UnterminatedString_Throws()
    {
        var image = Sample();
        var (offset, size) = image.Sections[".dynstr"];
        var data = image.Copy();
        data[offset + size - 1] = (byte)'x'; // the last string loses its NUL
        var e = ParseFails(data);
        Assert.Contains("unterminated", e.Message);
    }

    [Theory]
    [InlineData(".dynsym", 99u, "links to section 99")]
    [InlineData(".gnu.version_r", 1000u, "links to section 1000")]
    [InlineData(".dynamic", 0xffff_ffffu, "links to section")]
    public void Parse_SectionLinkOutOfRange_Throws(string section, uint link, string expected)
    {
        var image = Sample();
        var e = ParseFails(Patched(image.Bytes, image.SectionHeader(section) + ShLink, link, 4));
        Assert.Contains(expected, e.Message);
        Assert.Contains($"{image.SectionNames.Count} sections", e.Message);
    }

    [Fact]
    public void Parse_SectionLinkToANonStringTable_Throws()
    {
        var image = Sample();
        var e = ParseFails(Patched(image.Bytes, image.SectionHeader(".dynsym") + ShLink, (ulong)image.IndexOf(".gnu.version"), 4));
        Assert.Contains("not a string table", e.Message);
    }

    [Fact]
    public void Parse_SectionNameTableNotAStringTable_Throws()
    {
        // e_shstrndx names a section with no bytes in the file (SHT_NOBITS), "placed" 1 TiB past the end: its
        // range is not checked against the file, so the names must not be read from it.
        var image = Sample();
        long header = image.SectionHeader(".shstrtab");
        var data = Patched(Patched(image.Bytes, header + 4, 8, 4), header + ShOffset, (1UL << 40) + (ulong)image.Bytes.Length - 4, 8);
        var e = ParseFails(data);
        Assert.Contains("section name table", e.Message);
        Assert.Contains("not a string table", e.Message);
    }

    [Theory]
    [InlineData(12, 0x1000u)]  // vn_next of the first Elf64_Verneed
    [InlineData(8, 0x1000u)]   // its vn_aux
    [InlineData(12, 8u)]       // vn_next landing inside the entries, on garbage: a bad vn_version
    public void Parse_VerneedPointerOutsideTheSection_Throws(int field, uint value)
    {
        var image = Sample();
        var e = ParseFails(Patched(image.Bytes, image.Sections[".gnu.version_r"].Offset + field, value, 4));
        Assert.Contains(".gnu.version_r", e.Message);
    }

    [Fact]
    public void Parse_VernauxNextOutsideTheSection_Throws()
    {
        var image = Sample();
        long firstAux = image.Sections[".gnu.version_r"].Offset + 16; // libstdc++'s first vernaux
        var e = ParseFails(Patched(image.Bytes, firstAux + 12, 0x4000, 4));
        Assert.Contains("Elf64_Vernaux", e.Message);
        Assert.Contains("outside the section", e.Message);
    }

    [Fact]
    public void Parse_VerneedWithUnsupportedVersion_Throws()
    {
        var image = Sample();
        var e = ParseFails(Patched(image.Bytes, image.Sections[".gnu.version_r"].Offset, 2, 2));
        Assert.Contains("vn_version 2", e.Message);
    }

    [Fact]
    public void Parse_VerdefNextOutsideTheSection_Throws()
    {
        var image = Sample();
        var e = ParseFails(Patched(image.Bytes, image.Sections[".gnu.version_d"].Offset + 16, 0x4000, 4)); // vd_next
        Assert.Contains(".gnu.version_d", e.Message);
        Assert.Contains("Elf64_Verdef", e.Message);
    }

    [Fact]
    public void Parse_VersymTableShorterThanTheSymbols_Throws()
    {
        var image = Sample();
        var e = ParseFails(Patched(image.Bytes, image.SectionHeader(".gnu.version") + ShSize, 4, 8));
        Assert.Contains("fewer than the 7 symbols", e.Message);
    }

    /// <summary>Every single-byte change at every offset (to a few telling values) parses or throws ElfFormatException, nothing else.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_AnySingleByteCorruption_ThrowsOnlyElfFormatException(bool headersFirst)
    {
        var data = Sample(headersFirst).Bytes;
        var wrong = new List<string>();
        foreach (byte value in new byte[] { 0x00, 0x01, 0x08, 0x7f, 0x80, 0xff })
            for (int i = 0; i < data.Length; i++)
            {
                var copy = (byte[])data.Clone();
                copy[i] = value;
                if (Unexpected(copy) is { } what) wrong.Add($"byte {i} = 0x{value:x2}: {what}");
            }
        // And every aligned 4- and 8-byte field set to all ones (huge offsets, sizes and indices).
        foreach (int width in new[] { 4, 8 })
            for (int i = 0; i + width <= data.Length; i += width)
                if (Unexpected(Patched(data, i, ulong.MaxValue, width)) is { } what) wrong.Add($"{width} bytes at {i} = all ones: {what}");
        Assert.True(wrong.Count == 0, $"{wrong.Count} corruptions escaped as other exceptions: " + string.Join("; ", wrong.Take(8)));
    }

    /// <summary>Random multi-byte corruptions: the reader never throws anything but ElfFormatException.</summary>
    [Property(MaxTest = 500)]
    public void Parse_RandomCorruption_ThrowsOnlyElfFormatException(int[] positions, byte[] values, bool headersFirst)
    {
        var data = Sample(headersFirst).Copy();
        for (int k = 0; k < Math.Min(positions.Length, values.Length); k++)
            data[(int)((uint)positions[k] % (uint)data.Length)] = values[k];
        Assert.Null(Unexpected(data));
    }

    /// <summary>Null when <see cref="ElfFile.Parse"/> succeeds or throws <see cref="ElfFormatException"/>; otherwise what it threw.</summary>
    private static string? Unexpected(byte[] data)
    {
        try { ElfFile.Parse(data); return null; }
        catch (ElfFormatException) { return null; }
        catch (Exception e) { return $"{e.GetType().Name}: {e.Message}"; }
    }

    // ---- Read ----

    [Fact]
    public void Read_MissingFile_ThrowsArgumentExceptionNamingThePath()
    {
        var path = Path.Combine(Path.GetTempPath(), "attnkit-no-such-dir-" + Guid.NewGuid().ToString("N"), "libnothing.so");
        var e = Assert.Throws<ArgumentException>(() => ElfFile.Read(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Read_TextFile_ThrowsElfFormatExceptionNamingThePath()
    {
        using var temp = new TempFolder();
        var path = temp.File("notes.txt", Encoding.UTF8.GetBytes("just some notes, certainly not a shared object\n"));
        var e = Assert.Throws<ElfFormatException>(() => ElfFile.Read(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains("not an ELF file", e.Message);
    }

    [Fact]
    public void Read_TruncatedFile_ThrowsElfFormatExceptionNamingThePath()
    {
        using var temp = new TempFolder();
        var image = Sample();
        var path = temp.File("libcut.so", image.Bytes[..(int)(image.SectionHeaderTable + 10)]);
        var e = Assert.Throws<ElfFormatException>(() => ElfFile.Read(path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains("section header table", e.Message);
    }
}
