using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Loader;
using System.Security.Cryptography;

namespace AttnKit.Core.Native;

/// <summary>What the native-library compatibility step found and did.</summary>
/// <param name="Needed">True when TorchSharp's native library requires libstdc++ versions the system lacks.</param>
/// <param name="Applied">True when a patched copy was written (or found) and registered for TorchSharp to load.</param>
/// <param name="Summary">One line for people: what was checked and what happened.</param>
/// <param name="LibTorchSharp">The original libLibTorchSharp.so that was examined, if found.</param>
/// <param name="PatchedCopy">The patched copy TorchSharp binds to, when applied.</param>
/// <param name="LibStdCxx">The libstdc++ the loader will use, if found.</param>
/// <param name="MissingVersions">Versions required from libstdc++ that it does not define.</param>
/// <param name="Error">What went wrong, when the step was needed but could not be applied; null otherwise.</param>
public sealed record NativeCompatibilityReport(
    bool Needed, bool Applied, string Summary,
    string? LibTorchSharp = null, string? PatchedCopy = null, string? LibStdCxx = null,
    IReadOnlyList<string>? MissingVersions = null, string? Error = null);

/// <summary>
/// Makes TorchSharp's native library load on Linux systems whose libstdc++ is older than the one it was
/// built against (Debian 12, Ubuntu 22.04), with no manual step. See <see cref="VersionRequirementPatch"/>.
///
/// Steps (<see cref="Ensure"/>, once per process, before TorchSharp's first use):
/// 1. on anything but Linux, or when TorchSharp's native library cannot be found, do nothing;
/// 2. read which libstdc++ versions libLibTorchSharp.so requires and which the libstdc++ the loader will
///    use defines (the one already mapped into this process, else the first in the usual folders);
/// 3. if none is missing, do nothing;
/// 4. otherwise write a patched copy once to a cache folder (ATTN_CACHE_DIR, else $XDG_CACHE_HOME or
///    ~/.cache, under attnnotebooks/native/&lt;hash of the original&gt;/), atomically, never touching the
///    NuGet package's own file;
/// 5. load the original's neighbours it links against (libtorch, libc10, ...), then the patched copy, and
///    answer TorchSharp's requests for "LibTorchSharp" with it (a DllImport resolver for TorchSharp's
///    assembly, and the load context's fallback event for its explicit loads).
/// The step never throws: what failed is in <see cref="Report"/>, and <c>doctor</c> prints it.
/// </summary>
public static class NativeCompatibility
{
    /// <summary>The libstdc++ DT_NEEDED name.</summary>
    public const string LibStdCxxName = "libstdc++.so.6";
    private const string NativeName = "libLibTorchSharp.so";
    private static readonly Lock Gate = new();
    private static NativeCompatibilityReport? _report;
    private static IntPtr _handle;

    /// <summary>The result of <see cref="Ensure"/>; runs it if it has not run.</summary>
    public static NativeCompatibilityReport Report => Ensure();

    /// <summary>Runs the compatibility step once; later calls return the first result.</summary>
    public static NativeCompatibilityReport Ensure()
    {
        lock (Gate)
        {
            return _report ??= Run();
        }
    }

#pragma warning disable CA2255 // a module initializer in a library: TorchSharp must be redirected before its first use, from any entry.
    [ModuleInitializer]
    internal static void OnLoad() => Ensure();
#pragma warning restore CA2255

    private static NativeCompatibilityReport Run()
    {
        try
        {
            // 1.
            if (!OperatingSystem.IsLinux()) return new(false, false, "not Linux: TorchSharp's native library loads as shipped");
            var torchAssembly = typeof(TorchSharp.torch).Assembly; // typeof does not run torch's static constructor
            var original = FindLibTorchSharp(torchAssembly);
            if (original is null) return new(false, false, $"{NativeName} not found beside TorchSharp.dll or in the native search folders; nothing to check");
            var plan = Plan(original, FindLibStdCxx());
            if (!plan.Needed || plan.Error is not null) return plan;
            // 4.
            var patched = WritePatchedCopy(original, plan.MissingVersions!, CacheRoot());
            // 5.
            Register(torchAssembly, original, patched);
            return plan with { Applied = true, PatchedCopy = patched, Summary = $"{plan.Summary}; TorchSharp binds to the patched copy {patched}" };
        }
        catch (Exception e)
        {
            return new(true, false, "the compatibility step failed: " + e.Message, Error: e.ToString());
        }
    }

    /// <summary>
    /// Steps 2–3: decides whether <paramref name="libTorchSharp"/> needs the patch against <paramref name="libStdCxx"/>,
    /// and whether the patch can help (only marker symbols use the missing versions). Writes nothing.
    /// </summary>
    public static NativeCompatibilityReport Plan(string libTorchSharp, string? libStdCxx)
    {
        var elf = ElfFile.Read(libTorchSharp);
        var required = VersionRequirementPatch.Requirements(elf, LibStdCxxName).Where(v => !v.IsWeak).ToArray();
        if (required.Length == 0)
            return new(false, false, $"{Path.GetFileName(libTorchSharp)} requires no libstdc++ versions", libTorchSharp, LibStdCxx: libStdCxx, MissingVersions: []);
        if (libStdCxx is null)
            return new(false, false, $"no {LibStdCxxName} found to compare with; leaving TorchSharp's loading as it is", libTorchSharp, MissingVersions: []);
        var defined = ElfFile.Read(libStdCxx).VersionDefinitions.ToHashSet(StringComparer.Ordinal);
        var missing = required.Where(v => !defined.Contains(v.Version)).ToArray();
        var newest = defined.Where(d => d.StartsWith("GLIBCXX_", StringComparison.Ordinal)).OrderBy(d => d, VersionNameComparer.Instance).LastOrDefault() ?? "none";
        if (missing.Length == 0)
            return new(false, false, $"{libStdCxx} defines every version TorchSharp needs (newest {newest}); not needed", libTorchSharp, LibStdCxx: libStdCxx, MissingVersions: []);
        var names = missing.Select(m => m.Version).ToArray();
        var blockers = missing.SelectMany(m => elf.SymbolsWithVersion(m.Index)).Where(s => !VersionRequirementPatch.MarkerSymbols.Contains(s.Name) || !s.IsUndefined).Select(s => s.Name).ToArray();
        var summary = $"{libStdCxx} stops at {newest} but {Path.GetFileName(libTorchSharp)} requires {string.Join(", ", names)}";
        if (blockers.Length > 0)
            return new(true, false, summary + " for real symbols", libTorchSharp, null, libStdCxx, names,
                $"{string.Join(", ", names)} is used by {string.Join(", ", blockers.Take(3))}: install a newer libstdc++ (GCC 13 or later, e.g. Ubuntu 24.04) or put one on LD_LIBRARY_PATH");
        return new(true, false, summary + " only for a marker symbol", libTorchSharp, null, libStdCxx, names);
    }

    /// <summary>Step 4: writes (once) the patched copy of <paramref name="original"/> under <paramref name="cacheRoot"/> and returns its path.</summary>
    public static string WritePatchedCopy(string original, IReadOnlyCollection<string> versions, string cacheRoot)
    {
        var bytes = File.ReadAllBytes(original);
        var patched = VersionRequirementPatch.Apply(bytes, LibStdCxxName, versions);
        var hash = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
        var dir = Path.Combine(cacheRoot, "native", hash);
        var target = Path.Combine(dir, Path.GetFileName(original));
        if (File.Exists(target) && File.ReadAllBytes(target).AsSpan().SequenceEqual(patched)) return target;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(original)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(temp, patched);
        File.Move(temp, target, overwrite: true); // atomic within a folder: readers see the old file or the new one
        return target;
    }

    /// <summary>Where the kit keeps files it derives: ATTN_CACHE_DIR, else $XDG_CACHE_HOME/attnnotebooks, else ~/.cache/attnnotebooks.</summary>
    public static string CacheRoot()
    {
        var explicitDir = Environment.GetEnvironmentVariable("ATTN_CACHE_DIR");
        if (!string.IsNullOrWhiteSpace(explicitDir)) return explicitDir;
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var root = !string.IsNullOrWhiteSpace(xdg) ? xdg : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache") : Path.GetTempPath();
        return Path.Combine(root, "attnnotebooks");
    }

    private static void Register(Assembly torchAssembly, string original, string patched)
    {
        // The patched copy's RUNPATH is $ORIGIN (now the cache folder): load the libraries it links against first, from
        // where the original would have found them, so the loader then finds them by soname. What is not found there is
        // left to the loader's own search (LD_LIBRARY_PATH, as on a machine with PyTorch's libtorch).
        foreach (var dependency in FindDependencies(original, ElfFile.Read(patched).Needed))
            NativeLibrary.Load(dependency);
        _handle = NativeLibrary.Load(patched);
        try { NativeLibrary.SetDllImportResolver(torchAssembly, (name, _, _) => IsLibTorchSharp(name) ? _handle : IntPtr.Zero); }
        catch (InvalidOperationException) { /* someone set one already; the fallback event below still answers */ }
        var context = AssemblyLoadContext.GetLoadContext(torchAssembly) ?? AssemblyLoadContext.Default;
        context.ResolvingUnmanagedDll += (assembly, name) => IsLibTorchSharp(name) ? _handle : IntPtr.Zero;
    }

    /// <summary>
    /// Where the libraries that <paramref name="original"/> links against are, in load order: beside it (an app's output
    /// folder), else, in the NuGet packages layout that notebook hosts load TorchSharp from
    /// (&lt;packages&gt;/torchsharp/&lt;version&gt;/runtimes/&lt;rid&gt;/native/), in the libtorch packages next to it
    /// (&lt;packages&gt;/libtorch-cpu-&lt;rid&gt;/&lt;version&gt;/runtimes/&lt;rid&gt;/native/, then other libtorch-* packages), the newest
    /// version first. System libraries and names found nowhere are left out.
    /// </summary>
    internal static IReadOnlyList<string> FindDependencies(string original, IEnumerable<string> needed)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(original))!;
        var candidates = new List<string> { folder };
        var native = new DirectoryInfo(folder);
        var rid = native.Parent?.Name;                                  // runtimes/<rid>/native
        var packages = native.Parent?.Parent?.Parent?.Parent?.Parent;   // <packages>/torchsharp/<version>/runtimes/<rid>/native
        if (native.Name == "native" && native.Parent?.Parent?.Name == "runtimes" && packages is { Exists: true } && rid is not null)
        {
            candidates.AddRange(packages.GetDirectories("libtorch-*")
                .OrderBy(p => p.Name.StartsWith("libtorch-cpu", StringComparison.Ordinal) ? 0 : 1).ThenBy(p => p.Name, StringComparer.Ordinal)
                .SelectMany(p => p.GetDirectories().OrderByDescending(v => v.Name, VersionNameComparer.Instance))
                .Select(v => Path.Combine(v.FullName, "runtimes", rid, "native"))
                .Where(Directory.Exists));
        }
        var found = new List<string>();
        foreach (var name in needed)
        {
            if (IsSystemLibrary(name)) continue;
            var path = candidates.Select(c => Path.Combine(c, name)).FirstOrDefault(File.Exists);
            if (path is not null) found.Add(path);
        }
        return found;
    }

    private static bool IsSystemLibrary(string name) =>
        name.StartsWith("libc.so", StringComparison.Ordinal) || name.StartsWith("libm.so", StringComparison.Ordinal) ||
        name.StartsWith("libstdc++", StringComparison.Ordinal) || name.StartsWith("libgcc_s", StringComparison.Ordinal) ||
        name.StartsWith("ld-linux", StringComparison.Ordinal) || name.StartsWith("libpthread", StringComparison.Ordinal) ||
        name.StartsWith("libdl.so", StringComparison.Ordinal) || name.StartsWith("librt.so", StringComparison.Ordinal);

    private static bool IsLibTorchSharp(string name) =>
        name is "LibTorchSharp" or "libLibTorchSharp" or NativeName || Path.GetFileName(name) == NativeName;

    /// <summary>Where the runtime would look for TorchSharp's native library, in its order.</summary>
    internal static string? FindLibTorchSharp(Assembly torchAssembly)
    {
        var rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        var dirs = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            dirs.AddRange(searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        var asmDir = Path.GetDirectoryName(torchAssembly.Location);
        if (!string.IsNullOrEmpty(asmDir))
        {
            dirs.Add(asmDir);
            dirs.Add(Path.Combine(asmDir, "runtimes", rid, "native"));
            dirs.Add(Path.Combine(asmDir, "..", "..", "runtimes", rid, "native")); // the NuGet cache layout (notebooks)
        }
        return dirs.Select(d => Path.Combine(d, NativeName)).Where(File.Exists).Select(Path.GetFullPath).FirstOrDefault();
    }

    /// <summary>The libstdc++ the dynamic loader will use: the one mapped into this process, else the first found in LD_LIBRARY_PATH and the usual folders.</summary>
    public static string? FindLibStdCxx()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash >= 0 && Path.GetFileName(line[slash..]) == LibStdCxxName) return line[slash..];
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        var triplet = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        var dirs = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat([$"/lib/{triplet}", $"/usr/lib/{triplet}", "/lib64", "/usr/lib64", "/lib", "/usr/lib"]);
        return dirs.Select(d => Path.Combine(d, LibStdCxxName)).FirstOrDefault(File.Exists);
    }

    /// <summary>Orders version names by their numeric parts: GLIBCXX_3.4.9 &lt; GLIBCXX_3.4.30, and package versions 2.9.1 &lt; 2.10.0.</summary>
    internal sealed class VersionNameComparer : IComparer<string>
    {
        public static readonly VersionNameComparer Instance = new();
        public int Compare(string? x, string? y)
        {
            static int[] Parts(string? s) => (s ?? "").Split('_').Last().Split('.', '-').Select(p => int.TryParse(p, out var n) ? n : 0).ToArray();
            var (a, b) = (Parts(x), Parts(y));
            for (int i = 0; i < Math.Min(a.Length, b.Length); i++) if (a[i] != b[i]) return a[i].CompareTo(b[i]);
            return a.Length.CompareTo(b.Length);
        }
    }
}
