using System.Buffers.Binary;

namespace AttnKit.Core.Native;

/// <summary>
/// Relaxes a symbol-version requirement of a shared object whose only user is a marker symbol, so that the
/// object loads against an older library that lacks that version.
///
/// Why: TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32 (GCC 13's libstdc++) only for the
/// marker <c>std::ios_base_library_init()</c>, which no relocation uses. Debian 12 and Ubuntu 22.04 stop
/// at GLIBCXX_3.4.30, and the dynamic loader refuses the whole library.
///
/// Steps, on a copy of the bytes (the original is never written):
/// 1. find the Elf64_Vernaux entries that require the missing versions from the given library;
/// 2. check that every dynamic symbol bound to those versions is one of the allowed marker symbols
///    (otherwise the library really needs the newer runtime, and the patch refuses);
/// 3. set VER_FLG_WEAK in each entry's vna_flags, so glibc's loader only warns when it is absent;
/// 4. set each such symbol's .gnu.version entry to VER_NDX_GLOBAL, so it binds without a version.
/// </summary>
public static class VersionRequirementPatch
{
    /// <summary>Symbols that only mark a libstdc++ version and are safe to bind without it.</summary>
    public static readonly IReadOnlySet<string> MarkerSymbols = new HashSet<string>(StringComparer.Ordinal)
    {
        "_ZSt21ios_base_library_initv", // std::ios_base_library_init(), GCC 13 (GLIBCXX_3.4.32)
    };

    /// <summary>The versions that <paramref name="elf"/> requires from <paramref name="library"/> (by DT_NEEDED file name).</summary>
    public static IReadOnlyList<ElfVersionNeed> Requirements(ElfFile elf, string library)
    {
        ArgumentNullException.ThrowIfNull(elf);
        return elf.VersionNeeds.Where(v => v.File == library).ToArray();
    }

    /// <summary>
    /// Returns a patched copy of <paramref name="original"/> in which the given versions required from
    /// <paramref name="library"/> are weak and the marker symbols that used them are unversioned.
    /// </summary>
    /// <param name="original">The shared object's bytes (not modified).</param>
    /// <param name="library">The dependency's file name, e.g. "libstdc++.so.6".</param>
    /// <param name="versions">The versions to relax, e.g. "GLIBCXX_3.4.32".</param>
    /// <param name="allowedSymbols">Symbols allowed to use those versions; defaults to <see cref="MarkerSymbols"/>.</param>
    /// <exception cref="ElfFormatException">The bytes are not a well-formed ELF file.</exception>
    /// <exception cref="ArgumentException">A version is not required from that library, or a symbol other than an allowed marker uses it.</exception>
    public static byte[] Apply(byte[] original, string library, IReadOnlyCollection<string> versions, IReadOnlySet<string>? allowedSymbols = null)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentException.ThrowIfNullOrEmpty(library);
        ArgumentNullException.ThrowIfNull(versions);
        if (versions.Count == 0) throw new ArgumentException("no versions to relax were given", nameof(versions));
        allowedSymbols ??= MarkerSymbols;

        var elf = ElfFile.Parse(original);
        var copy = (byte[])original.Clone();
        var needs = Requirements(elf, library);
        foreach (var version in versions)
        {
            // 1. the requirement entry
            var need = needs.FirstOrDefault(n => n.Version == version)
                ?? throw new ArgumentException($"the file does not require {version} from {library} (it requires: {string.Join(", ", needs.Select(n => n.Version))})", nameof(versions));
            // 2. who uses it
            var users = elf.SymbolsWithVersion(need.Index).ToArray();
            var others = users.Where(s => !allowedSymbols.Contains(s.Name) || !s.IsUndefined).Select(s => s.Name).ToArray();
            if (others.Length > 0)
                throw new ArgumentException($"{version} from {library} is used by {string.Join(", ", others.Take(5))}{(others.Length > 5 ? $" and {others.Length - 5} more" : "")}, " +
                                            "not only by a marker symbol: the library really needs the newer runtime", nameof(versions));
            // 3. weak requirement
            BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan((int)need.FlagsOffset), (ushort)(need.Flags | ElfFile.VER_FLG_WEAK));
            // 4. unversioned marker symbols
            foreach (var s in users)
                BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan((int)s.VersionEntryOffset), ElfFile.VER_NDX_GLOBAL);
        }
        return copy;
    }
}
