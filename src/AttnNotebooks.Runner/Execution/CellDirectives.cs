using System.Text;
using System.Text.RegularExpressions;

namespace AttnNotebooks.Runner.Execution;

/// <summary>A directive or magic command the runner cannot honour, with where it is.</summary>
public sealed class DirectiveException(string message, int line) : Exception(message)
{
    /// <summary>1-based line in the cell.</summary>
    public int Line { get; } = line;
}

/// <summary>What a cell asks for besides its C# code.</summary>
/// <param name="Code">The C# to compile: directives the runner handled are blanked (line numbers stay), Roslyn's own <c>#r "file"</c> and <c>#load</c> are kept.</param>
/// <param name="IsMarkdown">The cell starts with <c>#!markdown</c>: it is not code.</param>
/// <param name="Packages">Shipped packages the cell references with <c>#r "nuget: ..."</c>.</param>
/// <param name="OwnAssemblies">Assemblies a <c>#r "path"</c> names that the runner maps to its own copy.</param>
public sealed record CellPlan(string Code, bool IsMarkdown, IReadOnlyList<ShippedPackages.Package> Packages, IReadOnlyList<string> OwnAssemblies);

/// <summary>
/// Reads a C# cell's directives the way the .NET Interactive C# kernel does:
/// <c>#!csharp</c> (or <c>#!c#</c>) on the first line selects C# and is dropped; <c>#!markdown</c> makes the cell markdown;
/// any other <c>#!</c> magic command is refused with a clear error (the runner has no other kernels or magics);
/// <c>#r "nuget: Id, Version"</c> resolves against <see cref="ShippedPackages"/>, and an unknown package or another
/// version is refused, naming what the runner has; <c>#r "path.dll"</c> and <c>#load "file.csx"</c> are left to Roslyn,
/// resolved against the notebook's folder, except that a <c>#r</c> of an assembly the runner ships itself (the kit) uses
/// the runner's copy.
/// </summary>
public static class CellDirectives
{
    private static readonly Regex NugetRef = new(@"^\s*#r\s+""nuget:\s*(?<id>[^,""]+?)\s*(,\s*(?<version>[^""]*?)\s*)?""\s*$", RegexOptions.Compiled);
    private static readonly Regex FileRef = new(@"^\s*#r\s+""(?<path>[^""]+)""\s*$", RegexOptions.Compiled);
    private static readonly Regex Magic = new(@"^\s*#!(?<name>[A-Za-z#][\w#.-]*)", RegexOptions.Compiled);

    /// <summary>Plans a cell's source.</summary>
    /// <exception cref="DirectiveException">A magic command, package or version the runner does not have.</exception>
    public static CellPlan Plan(string source)
    {
        var lines = source.Replace("\r\n", "\n").Split('\n');
        var packages = new List<ShippedPackages.Package>();
        var own = new List<string>();
        var code = new StringBuilder();
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            string kept = line;
            var magic = Magic.Match(line);
            if (magic.Success)
            {
                var name = magic.Groups["name"].Value.ToLowerInvariant();
                if (name is "csharp" or "c#")
                {
                    kept = "";
                }
                else if (name == "markdown" && code.ToString().Trim().Length == 0)
                {
                    return new CellPlan("", true, [], []);
                }
                else
                {
                    throw new DirectiveException($"the magic command #!{magic.Groups["name"].Value} is not supported by the runner: it runs C# cells only (#!csharp, #!markdown, #r and #load work)", i + 1);
                }
            }
            else if (NugetRef.Match(line) is { Success: true } nuget)
            {
                var id = nuget.Groups["id"].Value.Trim();
                var version = nuget.Groups["version"].Success ? nuget.Groups["version"].Value.Trim() : "";
                if (!ShippedPackages.All.TryGetValue(id, out var package))
                    throw new DirectiveException($"#r \"nuget: {id}\": the runner cannot download packages and does not ship {id}; it has {ShippedPackages.Describe()}", i + 1);
                if (version.Length > 0 && version != "*" && !SameVersion(version, package.Version))
                    throw new DirectiveException($"#r \"nuget: {id}, {version}\": the runner ships {id} {package.Version}, not {version}; change the version to {package.Version}", i + 1);
                packages.Add(package);
                kept = "";
            }
            else if (FileRef.Match(line) is { Success: true } file)
            {
                var asmName = Path.GetFileNameWithoutExtension(file.Groups["path"].Value);
                if (ShippedPackages.OwnAssemblies.Contains(asmName))
                {
                    own.Add(asmName);
                    kept = "";
                }
            }
            code.Append(kept);
            if (i < lines.Length - 1) code.Append('\n');
        }
        return new CellPlan(code.ToString(), false, packages, own);
    }

    private static bool SameVersion(string a, string b)
    {
        static string Norm(string v) => string.Join('.', v.Split('-')[0].Split('.').Select(p => p.TrimStart('0') is "" ? "0" : p.TrimStart('0')).Concat(Enumerable.Repeat("0", 4)).Take(4)) + (v.Contains('-') ? v[v.IndexOf('-')..] : "");
        return Norm(a) == Norm(b);
    }
}
