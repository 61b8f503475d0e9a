using System.Buffers.Binary;
using System.Text;

namespace AttnKit.Core.Native;

/// <summary>A malformed, truncated or unsupported ELF file.</summary>
public sealed class ElfFormatException(string message) : ArgumentException(message);

/// <summary>A section header of an ELF file.</summary>
/// <param name="Index">Position in the section header table.</param>
/// <param name="Name">Name from the section-name string table (".dynsym", ".gnu.version_r", ...).</param>
/// <param name="Type">sh_type (<see cref="ElfFile.SHT_DYNSYM"/>, <see cref="ElfFile.SHT_GNU_VERNEED"/>, ...).</param>
/// <param name="Offset">sh_offset: where its bytes start in the file.</param>
/// <param name="Size">sh_size in bytes.</param>
/// <param name="Link">sh_link: for symbol, version and dynamic sections, the index of their string table.</param>
/// <param name="Info">sh_info: for version sections, the number of entries.</param>
/// <param name="EntrySize">sh_entsize: size of one entry for tables.</param>
public sealed record ElfSection(int Index, string Name, uint Type, long Offset, long Size, int Link, uint Info, long EntrySize);

/// <summary>One version a shared object needs from one of its dependencies (an Elf64_Vernaux entry).</summary>
/// <param name="File">The dependency that must define it, e.g. "libstdc++.so.6".</param>
/// <param name="Version">The version name, e.g. "GLIBCXX_3.4.32".</param>
/// <param name="Flags">vna_flags; <see cref="ElfFile.VER_FLG_WEAK"/> marks a requirement whose absence is not fatal.</param>
/// <param name="Index">vna_other: the version index that .gnu.version entries use to point at it.</param>
/// <param name="FlagsOffset">File offset of the 16-bit vna_flags field (where a patch writes).</param>
public sealed record ElfVersionNeed(string File, string Version, ushort Flags, ushort Index, long FlagsOffset)
{
    /// <summary>True when the requirement is weak: the loader only warns if the version is missing.</summary>
    public bool IsWeak => (Flags & ElfFile.VER_FLG_WEAK) != 0;
}

/// <summary>A dynamic symbol with its version index from .gnu.version.</summary>
/// <param name="Name">The (mangled) symbol name.</param>
/// <param name="IsUndefined">True when the object imports it (st_shndx is SHN_UNDEF).</param>
/// <param name="VersionIndex">Its .gnu.version entry without the hidden bit; 0 local, 1 global, larger: a verdef or vernaux index. -1 when the file has no .gnu.version.</param>
/// <param name="VersionEntryOffset">File offset of its 16-bit .gnu.version entry, or -1.</param>
public sealed record ElfDynamicSymbol(string Name, bool IsUndefined, int VersionIndex, long VersionEntryOffset);

/// <summary>
/// A small, bounds-checked reader of 64-bit little-endian ELF shared objects (x86-64 and AArch64 Linux):
/// section headers, the dynamic section (DT_NEEDED, DT_SONAME), dynamic symbols and the GNU symbol
/// versioning sections (.gnu.version, .gnu.version_r, .gnu.version_d). It reads what the native-library
/// compatibility step needs and nothing more. Every offset is checked against the file's length; a
/// malformed or truncated file throws <see cref="ElfFormatException"/> naming what was wrong and where.
/// Layouts follow the System V ABI and the LSB's symbol versioning specification.
/// </summary>
public sealed class ElfFile
{
    /// <summary>Section type of the dynamic symbol table.</summary>
    public const uint SHT_DYNSYM = 11;
    /// <summary>Section type of the dynamic section.</summary>
    public const uint SHT_DYNAMIC = 6;
    /// <summary>Section type of a string table.</summary>
    public const uint SHT_STRTAB = 3;
    /// <summary>Section type of the version definitions (.gnu.version_d).</summary>
    public const uint SHT_GNU_VERDEF = 0x6ffffffd;
    /// <summary>Section type of the version requirements (.gnu.version_r).</summary>
    public const uint SHT_GNU_VERNEED = 0x6ffffffe;
    /// <summary>Section type of the symbol version table (.gnu.version).</summary>
    public const uint SHT_GNU_VERSYM = 0x6fffffff;
    /// <summary>vna_flags bit: a weak version requirement.</summary>
    public const ushort VER_FLG_WEAK = 0x2;
    /// <summary>.gnu.version value of an unversioned global symbol.</summary>
    public const ushort VER_NDX_GLOBAL = 1;

    private const int HeaderSize = 64;
    private const int SectionHeaderSize = 64;
    private const int SymbolSize = 24;
    private const int DynamicEntrySize = 16;
    private const int MaxEntries = 10_000_000;
    private static readonly byte[] ElfMagic = [0x7f, (byte)'E', (byte)'L', (byte)'F'];

    private readonly byte[] _data;

    /// <summary>The file's sections, in header order.</summary>
    public IReadOnlyList<ElfSection> Sections { get; }
    /// <summary>e_machine (62 = x86-64, 183 = AArch64).</summary>
    public ushort Machine { get; }
    /// <summary>DT_NEEDED entries: the libraries it links against, in order.</summary>
    public IReadOnlyList<string> Needed { get; }
    /// <summary>DT_SONAME, if present.</summary>
    public string? Soname { get; }
    /// <summary>All version requirements (.gnu.version_r), grouped by file in file order.</summary>
    public IReadOnlyList<ElfVersionNeed> VersionNeeds { get; }
    /// <summary>Names of the versions the object defines (.gnu.version_d), e.g. "GLIBCXX_3.4.30".</summary>
    public IReadOnlyList<string> VersionDefinitions { get; }
    /// <summary>The dynamic symbols (.dynsym) with their versions.</summary>
    public IReadOnlyList<ElfDynamicSymbol> DynamicSymbols { get; }

    private ElfFile(byte[] data)
    {
        _data = data;
        if (data.Length == 0)
            throw new ElfFormatException("empty file (0 bytes): not an ELF file");
        if (!data.AsSpan(0, Math.Min(data.Length, 4)).SequenceEqual(ElfMagic.AsSpan(0, Math.Min(data.Length, 4))))
            throw new ElfFormatException("not an ELF file: it does not start with the bytes 7F 45 4C 46 (\\x7fELF)");
        if (data.Length < 16)
            throw new ElfFormatException($"truncated ELF header: the file has {data.Length} bytes, the identification alone needs 16");
        if (data[4] != 2)
            throw new ElfFormatException($"unsupported ELF class {data[4]}: expected 2 (64-bit)");
        if (data[5] != 1)
            throw new ElfFormatException($"unsupported ELF data encoding {data[5]}: expected 1 (little-endian)");
        if (data.Length < HeaderSize)
            throw new ElfFormatException($"truncated ELF header: the file has {data.Length} bytes, the header needs {HeaderSize}");

        Machine = U16(18, "e_machine");
        long shoff = I64(0x28, "e_shoff (the section header table's offset)");
        int shentsize = U16(0x3A, "e_shentsize");
        int shnum = U16(0x3C, "e_shnum");
        int shstrndx = U16(0x3E, "e_shstrndx");
        if (shnum == 0 || shoff == 0)
            throw new ElfFormatException("the file has no section header table (stripped of sections); cannot read its symbol versions");
        if (shentsize != SectionHeaderSize)
            throw new ElfFormatException($"unexpected section header size {shentsize}: expected {SectionHeaderSize}");
        Require(shoff, (long)shnum * SectionHeaderSize, "section header table");
        if (shstrndx >= shnum)
            throw new ElfFormatException($"section name table index {shstrndx} is out of range (the file has {shnum} sections)");

        var raw = new (uint name, uint type, long off, long size, int link, uint info, long entsize)[shnum];
        for (int i = 0; i < shnum; i++)
        {
            long b = shoff + (long)i * SectionHeaderSize;
            uint type = U32(b + 4, "sh_type");
            long off = I64(b + 24, $"section {i}'s sh_offset");
            long size = I64(b + 32, $"section {i}'s sh_size");
            uint link = U32(b + 40, "sh_link");
            if (type != 8 /* SHT_NOBITS */ && type != 0) Require(off, size, $"section {i}");
            if (link >= shnum) throw new ElfFormatException($"section {i} links to section {link}, but the file has {shnum} sections");
            raw[i] = (U32(b, "sh_name"), type, off, size, (int)link, U32(b + 44, "sh_info"), I64(b + 56, $"section {i}'s sh_entsize"));
        }
        var names = raw[shstrndx];
        // Only string tables were checked to lie inside the file above; the names are read from this one.
        if (names.type != SHT_STRTAB)
            throw new ElfFormatException($"the section name table (section {shstrndx}) has type {names.type}, not a string table ({SHT_STRTAB})");
        Sections = raw.Select((s, i) => new ElfSection(i, CString(names.off, names.size, s.name, "section name"), s.type, s.off, s.size, s.link, s.info, s.entsize)).ToArray();

        var dynamic = Sections.FirstOrDefault(s => s.Type == SHT_DYNAMIC);
        (Needed, Soname) = dynamic is null ? ([], null) : ReadDynamic(dynamic);
        var verneed = Sections.FirstOrDefault(s => s.Type == SHT_GNU_VERNEED);
        VersionNeeds = verneed is null ? [] : ReadVersionNeeds(verneed);
        var verdef = Sections.FirstOrDefault(s => s.Type == SHT_GNU_VERDEF);
        VersionDefinitions = verdef is null ? [] : ReadVersionDefinitions(verdef);
        var dynsym = Sections.FirstOrDefault(s => s.Type == SHT_DYNSYM);
        DynamicSymbols = dynsym is null ? [] : ReadDynamicSymbols(dynsym, Sections.FirstOrDefault(s => s.Type == SHT_GNU_VERSYM));
    }

    /// <summary>Parses an ELF image held in memory. The array is kept, not copied: do not change it afterwards.</summary>
    /// <exception cref="ElfFormatException">The bytes are not a well-formed 64-bit little-endian ELF file.</exception>
    public static ElfFile Parse(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return new ElfFile(data);
    }

    /// <summary>Reads and parses an ELF file.</summary>
    /// <exception cref="ElfFormatException">The file is not a well-formed 64-bit little-endian ELF file; the message names the path.</exception>
    public static ElfFile Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new ArgumentException($"no such file: {path}", nameof(path));
        try { return new ElfFile(File.ReadAllBytes(path)); }
        catch (ElfFormatException e) { throw new ElfFormatException($"{path}: {e.Message}"); }
    }

    /// <summary>The symbols that use the version with the given index (a vernaux or verdef index).</summary>
    public IEnumerable<ElfDynamicSymbol> SymbolsWithVersion(int index) => DynamicSymbols.Where(s => s.VersionIndex == index);

    private (IReadOnlyList<string>, string?) ReadDynamic(ElfSection dyn)
    {
        var strtab = StringTable(dyn.Link, "dynamic section");
        var needed = new List<string>();
        string? soname = null;
        for (long p = dyn.Offset; p + DynamicEntrySize <= dyn.Offset + dyn.Size; p += DynamicEntrySize)
        {
            long tag = (long)U64(p, "d_tag");
            if (tag == 0) break; // DT_NULL
            ulong val = U64(p + 8, "d_val");
            if (tag == 1) needed.Add(CString(strtab.Offset, strtab.Size, val, "DT_NEEDED name"));
            else if (tag == 14) soname = CString(strtab.Offset, strtab.Size, val, "DT_SONAME");
        }
        return (needed, soname);
    }

    private List<ElfVersionNeed> ReadVersionNeeds(ElfSection sec)
    {
        // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32 (16 bytes)
        // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32 (16 bytes)
        var strtab = StringTable(sec.Link, sec.Name);
        var result = new List<ElfVersionNeed>();
        long p = sec.Offset;
        for (uint n = 0; n < Math.Max(sec.Info, 1u); n++)
        {
            RequireInSection(sec, p, 16, "Elf64_Verneed");
            if (U16(p, "vn_version") != 1) throw new ElfFormatException($"{sec.Name}: unsupported vn_version {U16(p, "vn_version")} at offset {p}");
            int cnt = U16(p + 2, "vn_cnt");
            string file = CString(strtab.Offset, strtab.Size, U32(p + 4, "vn_file"), "vn_file");
            long a = p + U32(p + 8, "vn_aux");
            for (int k = 0; k < cnt; k++)
            {
                RequireInSection(sec, a, 16, "Elf64_Vernaux");
                string name = CString(strtab.Offset, strtab.Size, U32(a + 8, "vna_name"), "vna_name");
                result.Add(new ElfVersionNeed(file, name, U16(a + 4, "vna_flags"), U16(a + 6, "vna_other"), a + 4));
                uint next = U32(a + 12, "vna_next");
                if (next == 0) break;
                a += next;
            }
            uint vnNext = U32(p + 12, "vn_next");
            if (vnNext == 0) break;
            p += vnNext;
            if (result.Count > MaxEntries) throw new ElfFormatException($"{sec.Name}: too many entries (a loop?)");
        }
        return result;
    }

    private List<string> ReadVersionDefinitions(ElfSection sec)
    {
        // Elf64_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32 (20 bytes)
        // Elf64_Verdaux: vda_name u32, vda_next u32; the first aux names the version itself.
        var strtab = StringTable(sec.Link, sec.Name);
        var result = new List<string>();
        long p = sec.Offset;
        for (uint n = 0; n < Math.Max(sec.Info, 1u); n++)
        {
            RequireInSection(sec, p, 20, "Elf64_Verdef");
            if (U16(p, "vd_version") != 1) throw new ElfFormatException($"{sec.Name}: unsupported vd_version {U16(p, "vd_version")} at offset {p}");
            long aux = p + U32(p + 12, "vd_aux");
            RequireInSection(sec, aux, 8, "Elf64_Verdaux");
            result.Add(CString(strtab.Offset, strtab.Size, U32(aux, "vda_name"), "vda_name"));
            uint next = U32(p + 16, "vd_next");
            if (next == 0) break;
            p += next;
        }
        return result;
    }

    private List<ElfDynamicSymbol> ReadDynamicSymbols(ElfSection dynsym, ElfSection? versym)
    {
        // Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64 (24 bytes)
        var strtab = StringTable(dynsym.Link, dynsym.Name);
        long count = dynsym.Size / SymbolSize;
        if (count > MaxEntries) throw new ElfFormatException($"{dynsym.Name}: implausible symbol count {count}");
        if (versym is not null && versym.Size < count * 2)
            throw new ElfFormatException($"{versym.Name} has {versym.Size / 2} entries, fewer than the {count} symbols of {dynsym.Name}");
        var result = new List<ElfDynamicSymbol>((int)count);
        for (long i = 0; i < count; i++)
        {
            long p = dynsym.Offset + i * SymbolSize;
            string name = CString(strtab.Offset, strtab.Size, U32(p, "st_name"), "symbol name");
            bool undefined = U16(p + 6, "st_shndx") == 0;
            long vOff = versym is null ? -1 : versym.Offset + i * 2;
            int version = versym is null ? -1 : U16(vOff, ".gnu.version entry") & 0x7fff;
            result.Add(new ElfDynamicSymbol(name, undefined, version, vOff));
        }
        return result;
    }

    private ElfSection StringTable(int index, string user)
    {
        var s = Sections[index];
        if (s.Type != SHT_STRTAB) throw new ElfFormatException($"{user} links to section {index} ({s.Name}), which is not a string table");
        return s;
    }

    private string CString(long tableOffset, long tableSize, ulong index, string what)
    {
        if (index >= (ulong)tableSize) throw new ElfFormatException($"{what}: string offset {index} is outside its string table ({tableSize} bytes)");
        long start = tableOffset + (long)index;
        long end = tableOffset + tableSize;
        int len = Array.IndexOf(_data, (byte)0, (int)start, (int)(end - start));
        if (len < 0) throw new ElfFormatException($"{what}: unterminated string at offset {start}");
        return Encoding.UTF8.GetString(_data, (int)start, len - (int)start);
    }

    private void Require(long offset, long length, string what)
    {
        if (offset < 0 || length < 0 || offset > _data.Length || length > _data.Length - offset)
            throw new ElfFormatException($"truncated or corrupt: {what} spans {length} bytes from offset {offset}, but the file has {_data.Length} bytes");
    }

    private static void RequireInSection(ElfSection sec, long offset, long length, string what)
    {
        if (offset < sec.Offset || offset + length > sec.Offset + sec.Size)
            throw new ElfFormatException($"{sec.Name}: {what} at offset {offset} runs outside the section (bytes {sec.Offset}..{sec.Offset + sec.Size})");
    }

    private ushort U16(long offset, string what) { Require(offset, 2, what); return BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan((int)offset)); }
    private uint U32(long offset, string what) { Require(offset, 4, what); return BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan((int)offset)); }
    private ulong U64(long offset, string what) { Require(offset, 8, what); return BinaryPrimitives.ReadUInt64LittleEndian(_data.AsSpan((int)offset)); }
    /// <summary>A 64-bit offset or size, which must fit a long (files larger than 8 EiB do not exist).</summary>
    private long I64(long offset, string what)
    {
        ulong v = U64(offset, what);
        if (v > long.MaxValue) throw new ElfFormatException($"corrupt: {what} is {v}, beyond any file size");
        return (long)v;
    }
}
