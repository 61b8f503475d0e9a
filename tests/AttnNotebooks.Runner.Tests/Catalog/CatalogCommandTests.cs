using System.Text.Json.Nodes;
using AttnKit.Catalog;

namespace AttnNotebooks.Runner.Tests.Catalog;

/// <summary>The <c>catalog</c> command as a user runs it: its table, coverage.json and the catalog page, against the CSV's rows.</summary>
public sealed class CatalogCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("attn-catalog-").FullName;
    private static readonly string Csv = Path.Combine(RepositoryNotebooksTests.RepositoryRoot(), PaperCatalog.RelativePath);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Prints_the_coverage_per_group_and_writes_coverage_json_and_the_page()
    {
        var papers = PaperCatalog.Load(Csv).Papers;
        var (code, output) = RunnerProcess.Run(null, "catalog", "--out", _dir);
        Assert.True(code == 0, output);

        var familyCache = papers.Where(p => p.Class is PaperClass.Family or PaperClass.Cache).ToList();
        var phenomenaSystems = papers.Where(p => p.Class is PaperClass.Phenomenon or PaperClass.System).ToList();
        // one table row per group: the group, then family+cache rows, with a type, with a section, then phenomenon+system
        foreach (var group in papers.Where(p => p.Group is not null).Select(p => p.Group!).Distinct())
        {
            var fc = familyCache.Where(p => p.Group == group).ToList();
            var ps = phenomenaSystems.Where(p => p.Group == group).ToList();
            int[] expected = [fc.Count, fc.Count(p => p.LibraryTypes.Count > 0), fc.Count(p => p.Notebook.Count > 0), ps.Count, ps.Count(p => p.LibraryTypes.Count > 0), ps.Count(p => p.Notebook.Count > 0)];
            var line = output.Split('\n').SingleOrDefault(l => l.StartsWith($"│ {group} ", StringComparison.Ordinal));
            Assert.True(line is not null, $"no table row for {group} in:\n{output}");
            Assert.Equal(expected, Numbers(line));
        }
        Assert.Contains($"{papers.Count} papers: {papers.Count(p => p.Class == PaperClass.Family)} family, {papers.Count(p => p.Class == PaperClass.Cache)} cache", output);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "coverage.json")))!;
        Assert.Equal(papers.Count, json["papers"]!.GetValue<int>());
        Assert.Equal(Path.GetFullPath(Csv), json["catalog"]!.GetValue<string>());
        Assert.Equal(familyCache.Count, json["familyAndCache"]!["rows"]!.GetValue<int>());
        Assert.Equal(familyCache.Count(p => p.LibraryTypes.Count > 0), json["familyAndCache"]!["withLibraryType"]!.GetValue<int>());
        Assert.Equal(familyCache.Count(p => p.Notebook.Count > 0), json["familyAndCache"]!["withNotebook"]!.GetValue<int>());
        Assert.Equal(familyCache.Count(p => p.Notebook.Count == 0 && p.LibraryTypes.Count == 0), json["familyAndCache"]!["notYet"]!.GetValue<int>());
        Assert.Equal(phenomenaSystems.Count, json["phenomenonAndSystem"]!["rows"]!.GetValue<int>());
        Assert.Equal(papers.Count(p => p.Class == PaperClass.Other), json["outOfScope"]!.GetValue<int>());
        foreach (var g in json["groups"]!.AsArray())
        {
            var group = g!["group"]!.GetValue<string>();
            Assert.Equal(familyCache.Count(p => p.Group == group), g["familyAndCache"]!["rows"]!.GetValue<int>());
            Assert.Equal(familyCache.Count(p => p.Group == group && p.LibraryTypes.Count > 0), g["familyAndCache"]!["withLibraryType"]!.GetValue<int>());
            Assert.Equal(phenomenaSystems.Count(p => p.Group == group), g["phenomenonAndSystem"]!["rows"]!.GetValue<int>());
        }
        Assert.Equal(papers.Where(p => p.Group is not null).Select(p => p.Group).Distinct().Count(), json["groups"]!.AsArray().Count);

        var page = File.ReadAllText(Path.Combine(_dir, "site", "catalog.html"));
        Assert.Equal(papers.Count, CountOf(page, "<tr id=\"paper-"));
        foreach (var section in papers.SelectMany(p => p.Notebook))
            Assert.Contains($"href=\"{section.PageHref}\"", page);
        Assert.True(File.Exists(Path.Combine(_dir, "site", "assets", "site.css")));
    }

    [Fact]
    public void The_site_folder_can_be_given()
    {
        var site = Path.Combine(_dir, "elsewhere");
        var (code, output) = RunnerProcess.Run(null, "catalog", "--out", _dir, "--site", site, "--csv", Csv);
        Assert.True(code == 0, output);
        Assert.True(File.Exists(Path.Combine(site, "catalog.html")));
        Assert.True(File.Exists(Path.Combine(_dir, "coverage.json")));
        Assert.False(Directory.Exists(Path.Combine(_dir, "site")));
    }

    [Fact]
    public void A_malformed_catalog_is_an_error_that_names_the_line()
    {
        var bad = Path.Combine(_dir, "papers.csv");
        var lines = File.ReadAllLines(Csv);
        lines[3] = lines[3].Replace(",family,", ",famly,").Replace(",other,", ",othr,").Replace(",cache,", ",cach,").Replace(",phenomenon,", ",phenomenn,");
        File.WriteAllLines(bad, lines);
        var (code, output) = RunnerProcess.Run(null, "catalog", "--csv", bad, "--out", _dir);
        Assert.Equal(2, code);
        Assert.Contains("papers.csv, line 4", output);
        Assert.Contains("class", output);
        Assert.False(File.Exists(Path.Combine(_dir, "coverage.json")));
    }

    [Fact]
    public void A_missing_catalog_is_an_error()
    {
        var (code, output) = RunnerProcess.Run(null, "catalog", "--csv", Path.Combine(_dir, "none.csv"), "--out", _dir);
        Assert.Equal(2, code);
        Assert.Contains("no paper catalog at", output);
    }

    private static int[] Numbers(string tableLine) =>
        tableLine.Split('│', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Skip(2).Select(int.Parse).ToArray();

    private static int CountOf(string text, string part)
    {
        int n = 0;
        for (int i = text.IndexOf(part, StringComparison.Ordinal); i >= 0; i = text.IndexOf(part, i + part.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}
