using System.Reflection;

namespace AttnNotebooks.Runner.Execution;

/// <summary>
/// The NuGet packages the runner ships, which a notebook's <c>#r "nuget: Id, Version"</c> resolves to instead of a
/// download: each package id with the version the runner has and the assemblies it brings.
/// </summary>
public static class ShippedPackages
{
    /// <summary>One shipped package.</summary>
    /// <param name="Id">NuGet id.</param>
    /// <param name="Version">The version the runner ships.</param>
    /// <param name="Assemblies">The assemblies a script gets from it (dependencies follow).</param>
    /// <param name="Note">Said when the id stands in for another build, e.g. the CUDA packages.</param>
    public sealed record Package(string Id, string Version, string[] Assemblies, string? Note = null);

    /// <summary>Every shipped package, by id (case-insensitive).</summary>
    public static IReadOnlyDictionary<string, Package> All { get; } = new Package[]
    {
        new("TorchSharp", "0.107.0", ["TorchSharp"]),
        new("TorchSharp-cpu", "0.107.0", ["TorchSharp"]),
        new("TorchSharp-cuda-linux", "0.107.0", ["TorchSharp"], "the runner uses the libtorch it was built or started with (CPU, or a CUDA libtorch on the library path)"),
        new("TorchSharp-cuda-windows", "0.107.0", ["TorchSharp"], "the runner uses the libtorch it was built or started with (CPU, or a CUDA libtorch on the library path)"),
        new("Plotly.NET", "6.0.0", ["Plotly.NET", "FSharp.Core"]),
        new("Plotly.NET.CSharp", "0.14.0", ["Plotly.NET.CSharp", "Plotly.NET", "FSharp.Core"]),
        new("Microsoft.Data.Analysis", "0.23.1", ["Microsoft.Data.Analysis"]),
        new("Microsoft.DotNet.Interactive.Formatting", "1.0.0-beta.23562.1", ["Microsoft.DotNet.Interactive.Formatting"]),
        new("Microsoft.ML.Tokenizers", "2.0.1", ["Microsoft.ML.Tokenizers"]),
    }.ToDictionary(p => p.Id, StringComparer.OrdinalIgnoreCase);

    /// <summary>Assemblies that a <c>#r "path/to/X.dll"</c> maps to the runner's own copy of (the kit the runner was built with).</summary>
    public static IReadOnlySet<string> OwnAssemblies { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "AttnKit" };

    /// <summary>A readable list for error messages: "TorchSharp-cpu 0.107.0, Plotly.NET 6.0.0, ...".</summary>
    public static string Describe() => string.Join(", ", All.Values.Select(p => $"{p.Id} {p.Version}"));

    /// <summary>The assemblies of <paramref name="names"/> and everything they reference that the runner ships (not the framework).</summary>
    public static IReadOnlyList<Assembly> Closure(IEnumerable<string> names)
    {
        var result = new Dictionary<string, Assembly>(StringComparer.OrdinalIgnoreCase);
        var appDir = AppContext.BaseDirectory;
        var pending = new Stack<AssemblyName>(names.Select(n => new AssemblyName(n)));
        while (pending.Count > 0)
        {
            var name = pending.Pop();
            if (result.ContainsKey(name.Name!)) continue;
            Assembly asm;
            try { asm = Assembly.Load(name); }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException) { continue; }
            if (string.IsNullOrEmpty(asm.Location) || !asm.Location.StartsWith(appDir, StringComparison.Ordinal)) continue; // framework: referenced anyway
            result[name.Name!] = asm;
            foreach (var r in asm.GetReferencedAssemblies()) pending.Push(r);
        }
        return result.Values.ToList();
    }
}
