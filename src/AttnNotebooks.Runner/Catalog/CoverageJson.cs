using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AttnKit.Catalog;

namespace AttnNotebooks.Runner.Catalog;

/// <summary>
/// <c>coverage.json</c>: the catalog's coverage as the <c>catalog</c> command writes it, for CI and dashboards. Every number
/// is counted from the catalog's rows:
/// <code>
/// { "catalog": path, "papers": 381, "classes": { "family": 137, ... }, "outOfScope": 164,
///   "familyAndCache": COUNT, "phenomenonAndSystem": COUNT,
///   "groups": [ { "group": "F1", "name": "...", "familyAndCache": COUNT, "phenomenonAndSystem": COUNT }, ... ] }
/// COUNT = { "rows", "withLibraryType", "withNotebook", "covered", "libraryOnly", "notYet" }
/// </code>
/// </summary>
internal static class CoverageJson
{
    public static JsonObject Of(PaperCatalog catalog)
    {
        var coverage = catalog.Coverage();
        var classes = new JsonObject();
        foreach (var (cls, n) in coverage.Classes) classes[PaperClasses.Name(cls)] = n;
        var groups = new JsonArray();
        foreach (var g in coverage.Groups)
            groups.Add(new JsonObject { ["group"] = g.Group, ["name"] = g.Name, ["familyAndCache"] = Count(g.FamilyAndCache), ["phenomenonAndSystem"] = Count(g.PhenomenonAndSystem) });
        return new JsonObject
        {
            ["catalog"] = catalog.SourcePath,
            ["papers"] = coverage.Papers,
            ["classes"] = classes,
            ["outOfScope"] = coverage.OutOfScope,
            ["familyAndCache"] = Count(coverage.FamilyAndCache),
            ["phenomenonAndSystem"] = Count(coverage.PhenomenonAndSystem),
            ["groups"] = groups,
        };
    }

    /// <summary>Writes <c>coverage.json</c> into <paramref name="outDir"/> (created if needed); returns its full path.</summary>
    public static string Write(PaperCatalog catalog, string outDir)
    {
        var dir = Path.GetFullPath(outDir);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "coverage.json");
        File.WriteAllText(path, Of(catalog).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n", new UTF8Encoding(false));
        return path;
    }

    private static JsonObject Count(CoverageCount c) => new()
    {
        ["rows"] = c.Rows,
        ["withLibraryType"] = c.WithLibraryType,
        ["withNotebook"] = c.WithNotebook,
        ["covered"] = c.Covered,
        ["libraryOnly"] = c.LibraryOnly,
        ["notYet"] = c.NotYet,
    };
}
