using System.Buffers.Binary;
using System.Text;

namespace AttnKit.Tests.Native;

/// <summary>
/// Writes small, valid ELF64 little-endian shared objects in memory, for tests of the ELF reader and the patch.
/// It never calls the reader: every offset it reports is where it wrote the bytes itself.
///
/// Layouts (System V ABI; LSB symbol versioning), all little-endian, "@n" is the field's byte offset:
///   Elf64_Ehdr (64):  e_ident[16] = 7F 'E' 'L' 'F', class 2 (64-bit), data 1 (LE), version 1, zero padding;
///                     e_type u16 @16, e_machine u16 @18, e_version u32 @20, e_entry u64 @24, e_phoff u64 @32,
///                     e_shoff u64 @40, e_flags u32 @48, e_ehsize u16 @52, e_phentsize u16 @54, e_phnum u16 @56,
///                     e_shentsize u16 @58, e_shnum u16 @60, e_shstrndx u16 @62
///   Elf64_Shdr (64):  sh_name u32 @0, sh_type u32 @4, sh_flags u64 @8, sh_addr u64 @16, sh_offset u64 @24,
///                     sh_size u64 @32, sh_link u32 @40, sh_info u32 @44, sh_addralign u64 @48, sh_entsize u64 @56
///   Elf64_Sym (24):   st_name u32 @0, st_info u8 @4, st_other u8 @5, st_shndx u16 @6 (0 = undefined), st_value u64 @8, st_size u64 @16
///   .gnu.version:     one u16 per dynamic symbol: 0 local, 1 global, n a verdef/vernaux index (bit 15: hidden)
///   Elf64_Verneed (16): vn_version u16 @0 (=1), vn_cnt u16 @2, vn_file u32 @4, vn_aux u32 @8, vn_next u32 @12
///   Elf64_Vernaux (16): vna_hash u32 @0, vna_flags u16 @4, vna_other u16 @6 (the index), vna_name u32 @8, vna_next u32 @12
///   Elf64_Verdef (20):  vd_version u16 @0 (=1), vd_flags u16 @2, vd_ndx u16 @4, vd_cnt u16 @6, vd_hash u32 @8, vd_aux u32 @12, vd_next u32 @16
///   Elf64_Verdaux (8):  vda_name u32 @0, vda_next u32 @4 (the first names the version, a second its parent)
///   Elf64_Dyn (16):     d_tag i64 @0 (DT_NULL 0, DT_NEEDED 1, DT_SONAME 14), d_val u64 @8 (a .dynstr offset)
/// File: header, then the sections' bytes (each 8-aligned), then the section header table; or, with
/// <see cref="SectionHeadersFirst"/>, the table right after the header. Sections: [0] null, .dynstr, .dynsym,
/// .gnu.version (unless <see cref="WithoutVersymTable"/>), .gnu.version_r and .gnu.version_d (when non-empty), .dynamic, .shstrtab.
/// The first verdef is the file's base version (VER_FLG_BASE, index 1, named by the soname), as in real libraries;
/// <see cref="Defines"/> adds the next ones with indices 2, 3, ...
/// </summary>
internal sealed class ElfBuilder
{
    public const ushort VerFlgBase = 1, VerFlgWeak = 2;
    public const uint ShtStrtab = 3, ShtDynamic = 6, ShtDynsym = 11, ShtVerdef = 0x6ffffffd, ShtVerneed = 0x6ffffffe, ShtVersym = 0x6fffffff;

    public sealed record Requirement(string File, string Version, ushort Index, ushort Flags);
    public sealed record Definition(string Name, string? Parent);
    public sealed record Symbol(string Name, bool Undefined, ushort Version);

    private readonly List<string> _needed = [];
    private string? _soname;
    private readonly List<Requirement> _requirements = [];
    private readonly List<Definition> _definitions = [];
    private readonly List<Symbol> _symbols = [];
    private bool _versym = true, _headersFirst;

    public ElfBuilder Needed(params string[] libraries) { _needed.AddRange(libraries); return this; }
    public ElfBuilder Soname(string soname) { _soname = soname; return this; }
    /// <summary>A vernaux entry: this file needs <paramref name="version"/> from <paramref name="file"/>; symbols point at it by <paramref name="index"/>.</summary>
    public ElfBuilder Requires(string file, string version, ushort index, ushort flags = 0) { _requirements.Add(new(file, version, index, flags)); return this; }
    /// <summary>A verdef entry after the base one; its index is 2 for the first call, 3 for the next, ...</summary>
    public ElfBuilder Defines(string name, string? parent = null) { _definitions.Add(new(name, parent)); return this; }
    public ElfBuilder Import(string name, ushort version) { _symbols.Add(new(name, true, version)); return this; }
    public ElfBuilder Export(string name, ushort version) { _symbols.Add(new(name, false, version)); return this; }
    public ElfBuilder WithoutVersymTable() { _versym = false; return this; }
    public ElfBuilder SectionHeadersFirst() { _headersFirst = true; return this; }

    public ElfImage Build()
    {
        var dynstr = new StringTable();
        string baseName = _soname ?? "libbuilt.so";
        var vernauxFlags = new Dictionary<string, long>(); // relative to .gnu.version_r for now
        var versymEntries = new Dictionary<string, long>();
        var symbolEntries = new Dictionary<string, long>();

        // .dynsym: the null symbol, then ours.
        var dynsym = new byte[24 * (_symbols.Count + 1)];
        for (int i = 0; i < _symbols.Count; i++)
        {
            var s = dynsym.AsSpan(24 * (i + 1), 24);
            BinaryPrimitives.WriteUInt32LittleEndian(s, dynstr.Add(_symbols[i].Name));
            s[4] = 0x12; // STB_GLOBAL << 4 | STT_FUNC
            BinaryPrimitives.WriteUInt16LittleEndian(s[6..], _symbols[i].Undefined ? (ushort)0 : (ushort)0xfff1); // SHN_UNDEF or SHN_ABS
            symbolEntries[_symbols[i].Name] = 24 * (i + 1);
        }
        // .gnu.version: 0 for the null symbol.
        var versym = new byte[2 * (_symbols.Count + 1)];
        for (int i = 0; i < _symbols.Count; i++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(versym.AsSpan(2 * (i + 1)), _symbols[i].Version);
            versymEntries[_symbols[i].Name] = 2 * (i + 1);
        }
        // .gnu.version_r: one Elf64_Verneed per file (in first-mention order), its Elf64_Vernaux entries right after it.
        var files = _requirements.Select(r => r.File).Distinct().ToArray();
        var verneed = new byte[16 * (files.Length + _requirements.Count)];
        int p = 0;
        for (int f = 0; f < files.Length; f++)
        {
            var aux = _requirements.Where(r => r.File == files[f]).ToArray();
            W16(verneed, p, 1); W16(verneed, p + 2, (ushort)aux.Length); W32(verneed, p + 4, dynstr.Add(files[f]));
            W32(verneed, p + 8, 16); W32(verneed, p + 12, f == files.Length - 1 ? 0u : (uint)(16 + 16 * aux.Length));
            p += 16;
            for (int k = 0; k < aux.Length; k++, p += 16)
            {
                W32(verneed, p, ElfHash(aux[k].Version)); W16(verneed, p + 4, aux[k].Flags); W16(verneed, p + 6, aux[k].Index);
                W32(verneed, p + 8, dynstr.Add(aux[k].Version)); W32(verneed, p + 12, k == aux.Length - 1 ? 0u : 16u);
                vernauxFlags[$"{files[f]}:{aux[k].Version}"] = p + 4;
            }
        }
        // .gnu.version_d: the base version, then ours (one Elf64_Verdaux, or two with a parent).
        var defs = _definitions.Count == 0 ? [] : _definitions.Prepend(new Definition(baseName, null)).ToArray();
        var verdef = new byte[defs.Sum(d => 20 + (d.Parent is null ? 8 : 16))];
        p = 0;
        for (int i = 0; i < defs.Length; i++)
        {
            int cnt = defs[i].Parent is null ? 1 : 2;
            W16(verdef, p, 1); W16(verdef, p + 2, i == 0 ? VerFlgBase : (ushort)0); W16(verdef, p + 4, (ushort)(i + 1)); W16(verdef, p + 6, (ushort)cnt);
            W32(verdef, p + 8, ElfHash(defs[i].Name)); W32(verdef, p + 12, 20); W32(verdef, p + 16, i == defs.Length - 1 ? 0u : (uint)(20 + 8 * cnt));
            W32(verdef, p + 20, dynstr.Add(defs[i].Name)); W32(verdef, p + 24, cnt == 2 ? 8u : 0u);
            if (cnt == 2) W32(verdef, p + 28, dynstr.Add(defs[i].Parent!));
            p += 20 + 8 * cnt;
        }
        // .dynamic: DT_NEEDED..., DT_SONAME, DT_NULL.
        var entries = _needed.Select(n => (Tag: 1L, Value: (ulong)dynstr.Add(n))).ToList();
        if (_soname is not null) entries.Add((14L, dynstr.Add(_soname)));
        entries.Add((0L, 0UL));
        var dynamic = new byte[16 * entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(dynamic.AsSpan(16 * i), entries[i].Tag);
            BinaryPrimitives.WriteUInt64LittleEndian(dynamic.AsSpan(16 * i + 8), entries[i].Value);
        }

        // The section list; sh_link names a section, resolved to its index below.
        var sections = new List<(string Name, uint Type, byte[] Data, string? Link, uint Info, ulong EntSize)>
        {
            ("", 0, [], null, 0, 0),
            (".dynstr", ShtStrtab, dynstr.ToArray(), null, 0, 0),
            (".dynsym", ShtDynsym, dynsym, ".dynstr", 1, 24),
        };
        if (_versym) sections.Add((".gnu.version", ShtVersym, versym, ".dynsym", 0, 2));
        if (files.Length > 0) sections.Add((".gnu.version_r", ShtVerneed, verneed, ".dynstr", (uint)files.Length, 0));
        if (defs.Length > 0) sections.Add((".gnu.version_d", ShtVerdef, verdef, ".dynstr", (uint)defs.Length, 0));
        sections.Add((".dynamic", ShtDynamic, dynamic, ".dynstr", 0, 16));
        var shstr = new StringTable();
        var nameOffsets = sections.Select(s => shstr.Add(s.Name)).ToArray();
        uint shstrName = shstr.Add(".shstrtab");
        sections.Add((".shstrtab", ShtStrtab, shstr.ToArray(), null, 0, 0));
        var names = sections.Select(s => s.Name).ToArray();

        // Lay out: header, [table], sections, [table].
        long shoff = 0, pos = 64;
        if (_headersFirst) { shoff = pos; pos += 64 * sections.Count; }
        var offsets = new long[sections.Count];
        for (int i = 1; i < sections.Count; i++) { pos = Align8(pos); offsets[i] = pos; pos += sections[i].Data.Length; }
        if (!_headersFirst) { shoff = Align8(pos); pos = shoff + 64 * sections.Count; }

        var image = new byte[pos];
        "\x7f"u8.CopyTo(image); "ELF"u8.CopyTo(image.AsSpan(1));
        image[4] = 2; image[5] = 1; image[6] = 1;
        W16(image, 16, 3); W16(image, 18, 62); W32(image, 20, 1); // ET_DYN, EM_X86_64, EV_CURRENT
        BinaryPrimitives.WriteUInt64LittleEndian(image.AsSpan(40), (ulong)shoff);
        W16(image, 52, 64); W16(image, 54, 56); W16(image, 58, 64); W16(image, 60, (ushort)sections.Count); W16(image, 62, (ushort)(sections.Count - 1));
        for (int i = 0; i < sections.Count; i++)
        {
            var s = sections[i];
            s.Data.CopyTo(image, offsets[i]);
            var h = image.AsSpan((int)(shoff + 64 * i), 64);
            if (i == 0) continue;
            BinaryPrimitives.WriteUInt32LittleEndian(h, i == sections.Count - 1 ? shstrName : nameOffsets[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], s.Type);
            BinaryPrimitives.WriteUInt64LittleEndian(h[16..], (ulong)offsets[i]); // sh_addr: loaded where it lies in the file
            BinaryPrimitives.WriteUInt64LittleEndian(h[24..], (ulong)offsets[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(h[32..], (ulong)s.Data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(h[40..], s.Link is null ? 0u : (uint)Array.IndexOf(names, s.Link));
            BinaryPrimitives.WriteUInt32LittleEndian(h[44..], s.Info);
            BinaryPrimitives.WriteUInt64LittleEndian(h[48..], s.Type == ShtStrtab ? 1UL : 8UL);
            BinaryPrimitives.WriteUInt64LittleEndian(h[56..], s.EntSize);
        }

        long At(string section) => offsets[Array.IndexOf(names, section)];
        return new ElfImage(image, shoff, names,
            names.Select((n, i) => (n, i)).Skip(1).ToDictionary(x => x.n, x => (offsets[x.i], (long)sections[x.i].Data.Length)),
            vernauxFlags.ToDictionary(kv => kv.Key, kv => At(".gnu.version_r") + kv.Value),
            _versym ? versymEntries.ToDictionary(kv => kv.Key, kv => At(".gnu.version") + kv.Value) : [],
            symbolEntries.ToDictionary(kv => kv.Key, kv => At(".dynsym") + kv.Value));
    }

    private static long Align8(long x) => (x + 7) & ~7L;
    private static void W16(byte[] b, int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(at), v);
    private static void W32(byte[] b, int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(at), v);

    /// <summary>The SysV ELF hash that vna_hash and vd_hash hold.</summary>
    private static uint ElfHash(string name)
    {
        uint h = 0;
        foreach (byte c in Encoding.UTF8.GetBytes(name))
        {
            h = (h << 4) + c;
            uint g = h & 0xf0000000;
            if (g != 0) h ^= g >> 24;
            h &= ~g;
        }
        return h;
    }

    /// <summary>A string table: a leading NUL, then each distinct string once, NUL-terminated.</summary>
    private sealed class StringTable
    {
        private readonly List<byte> _bytes = [0];
        private readonly Dictionary<string, uint> _at = new() { [""] = 0 };
        public uint Add(string s)
        {
            if (_at.TryGetValue(s, out var at)) return at;
            at = (uint)_bytes.Count;
            _bytes.AddRange(Encoding.UTF8.GetBytes(s + "\0"));
            return _at[s] = at;
        }
        public byte[] ToArray() => _bytes.ToArray();
    }
}

/// <summary>A built image and where the builder wrote its parts (file offsets).</summary>
/// <param name="VernauxFlags">Key "file:version": the offset of that Elf64_Vernaux's vna_flags.</param>
/// <param name="VersymEntries">Symbol name: the offset of its .gnu.version entry.</param>
/// <param name="SymbolEntries">Symbol name: the offset of its Elf64_Sym.</param>
internal sealed record ElfImage(
    byte[] Bytes, long SectionHeaderTable, IReadOnlyList<string> SectionNames,
    IReadOnlyDictionary<string, (long Offset, long Size)> Sections,
    IReadOnlyDictionary<string, long> VernauxFlags,
    IReadOnlyDictionary<string, long> VersymEntries,
    IReadOnlyDictionary<string, long> SymbolEntries)
{
    public int IndexOf(string section) => SectionNames.ToList().IndexOf(section) is var i and >= 0 ? i : throw new KeyNotFoundException(section);
    /// <summary>File offset of the named section's Elf64_Shdr.</summary>
    public long SectionHeader(string section) => SectionHeaderTable + 64L * IndexOf(section);
    public byte[] Copy() => (byte[])Bytes.Clone();
}
