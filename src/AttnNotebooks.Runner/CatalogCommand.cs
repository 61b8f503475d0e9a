using System.CommandLine;
using System.Globalization;
using AttnKit.Catalog;
using AttnNotebooks.Runner.Catalog;
using AttnNotebooks.Runner.Site;
using Spectre.Console;

namespace AttnNotebooks.Runner;

/// <summary>
/// <c>catalog</c>: reads <c>data/papers.csv</c>, prints the coverage per group (family and cache papers, and separately
/// phenomenon and system papers: how many, how many with a library type, how many with a notebook section), writes
/// <c>coverage.json</c> and adds the searchable catalog page to the site. Exit 0, or 2 when the catalog is missing or malformed.
/// </summary>
internal static class CatalogCommand
{
    public static Command Create()
    {
        var csv = new Option<string?>("--csv") { Description = "the catalog (default: data/papers.csv, looked for from here upwards, then above the kit's build folder)" };
        var output = new Option<string>("--out") { Description = "where coverage.json goes", DefaultValueFactory = _ => "results" };
        var site = new Option<string?>("--site") { Description = "the site folder that gets catalog.html (default: OUT/site, i.e. results/site)" };
        var command = new Command("catalog", "Print the paper catalog's coverage per group, write coverage.json and the site's catalog page.")
        {
            csv, output, site,
        };
        command.SetAction(parse => Run(parse.GetValue(csv), parse.GetValue(output)!, parse.GetValue(site)));
        return command;
    }

    public static int Run(string? csvPath, string outDir, string? siteDir)
    {
        var console = AnsiConsole.Console;
        PaperCatalog catalog;
        try { catalog = csvPath is null ? PaperCatalog.Load() : PaperCatalog.Load(csvPath); }
        catch (Exception e) when (e is ArgumentException or IOException)
        {
            console.WriteLine("catalog: " + e.Message);
            return 2;
        }
        var coverage = catalog.Coverage();
        console.Write(Table(coverage, console.Profile.Width));
        console.WriteLine($"{coverage.Papers} papers: {string.Join(", ", coverage.Classes.Select(c => $"{c.Value} {PaperClasses.Name(c.Key)}"))}");
        var fc = coverage.FamilyAndCache;
        console.WriteLine($"family and cache: {fc.Covered} covered, {fc.LibraryOnly} library only, {fc.NotYet} not yet (of {fc.Rows})");
        var json = CoverageJson.Write(catalog, outDir);
        var page = CatalogPage.Write(catalog, siteDir ?? Path.Combine(outDir, "site"));
        console.WriteLine($"coverage: {json}");
        console.WriteLine($"catalog page: {page}");
        return 0;
    }

    private static Table Table(CatalogCoverage coverage, int width)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("coverage of data/papers.csv per group")
            .AddColumn(new TableColumn("group").NoWrap()).AddColumn(new TableColumn("name").NoWrap());
        int room = Math.Max(12, width - 68);                 // one line per group: the name is cut to what the console has left
        foreach (var header in new[] { "family\n+cache", "with\ntype", "with\nnotebook", "phenom.\n+system", "with\ntype", "with\nnotebook" })
            table.AddColumn(new TableColumn(header).RightAligned().NoWrap());
        void Row(string group, string name, CoverageCount a, CoverageCount b) =>
            table.AddRow(new Text(group), new Text(name.Length <= room ? name : name[..(room - 1)] + "…"), Number(a.Rows), Number(a.WithLibraryType), Number(a.WithNotebook), Number(b.Rows), Number(b.WithLibraryType), Number(b.WithNotebook));
        foreach (var g in coverage.Groups) Row(g.Group, g.Name, g.FamilyAndCache, g.PhenomenonAndSystem);
        table.AddEmptyRow();
        Row("all", "", coverage.FamilyAndCache, coverage.PhenomenonAndSystem);
        return table;
    }

    private static Text Number(int n) => new(n.ToString(CultureInfo.InvariantCulture));
}
