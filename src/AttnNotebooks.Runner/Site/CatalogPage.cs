using System.Globalization;
using System.Text;
using AttnKit.Catalog;
using AttnKit.Notebook;
using AttnKit.Viz;

namespace AttnNotebooks.Runner.Site;

/// <summary>
/// The site's <c>catalog.html</c>: every paper of <c>data/papers.csv</c> in one table (title and summary, year, arXiv link,
/// class, group, status, and where the kit covers it: library types and links to notebook sections, <c>NN-name.html#anchor</c>),
/// with a search box and class, group and status filters run by a small inline script; above it, the coverage per
/// group as a chart and a table. Every number is counted from the catalog. The page works offline, like the rest of the site.
/// </summary>
public static class CatalogPage
{
    /// <summary>The page's file name in the site folder.</summary>
    public const string FileName = "catalog.html";

    /// <summary>How the index links to the page.</summary>
    public static SiteLink Link(PaperCatalog catalog) =>
        new(FileName, "Paper catalog", $"all {catalog.Count} seed papers: class, group, and where the kit covers them");

    /// <summary>Writes <c>catalog.html</c> (and the site's assets) into <paramref name="siteDir"/>; returns the page's full path.</summary>
    public static string Write(PaperCatalog catalog, string siteDir, SiteOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(siteDir);
        var root = Path.GetFullPath(siteDir);
        Directory.CreateDirectory(root);
        SiteAssets.Write(root);
        var path = Path.Combine(root, FileName);
        File.WriteAllText(path, Render(catalog, options ?? new SiteOptions()), new UTF8Encoding(false));
        return path;
    }

    /// <summary>The page's HTML.</summary>
    public static string Render(PaperCatalog catalog, SiteOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        var coverage = catalog.Coverage();
        var sb = SiteWriter.Head("", "Paper catalog · " + options.Title);
        sb.Append("<header class=\"site-header\"><a class=\"home\" href=\"index.html\">").Append(Html.Escape(options.Title)).Append("</a>")
          .Append("<span class=\"file\">").Append(PaperCatalog.RelativePath).Append("</span></header>\n");
        sb.Append("<main class=\"catalog\">\n<h1 id=\"paper-catalog\">Paper catalog</h1>\n");
        var fc = coverage.FamilyAndCache;
        sb.Append("<p class=\"summary\">").Append(N(coverage.Papers)).Append(" papers: ")
          .Append(string.Join(", ", coverage.Classes.Select(c => $"{N(c.Value)} {PaperClasses.Name(c.Key)}"))).Append(". Family and cache papers: ")
          .Append(N(fc.Rows)).Append("; covered in a notebook: ").Append(N(fc.Covered)).Append("; in the library only: ")
          .Append(N(fc.LibraryOnly)).Append("; not covered yet: ").Append(N(fc.NotYet)).Append(".</p>\n");

        sb.Append("<h2 id=\"coverage\">Coverage per group</h2>\n");
        sb.Append(ChartHtml.Render(CoverageChart.FamilyAndCache(coverage))).Append('\n');
        CoverageTable(sb, coverage);

        sb.Append("<h2 id=\"papers\">Papers</h2>\n<div class=\"filters\">\n")
          .Append("<input type=\"search\" id=\"catalog-search\" placeholder=\"Search titles, ids, arXiv ids, summaries, library types\" aria-label=\"search the catalog\">\n");
        Select(sb, "class", "every class", Enum.GetValues<PaperClass>().Select(c => (PaperClasses.Name(c), PaperClasses.Name(c))));
        Select(sb, "group", "every group", coverage.Groups.Select(g => (g.Group, $"{g.Group} {g.Name}")));
        Select(sb, "status", "every status", Enum.GetValues<CoverageStatus>().Select(s => (PaperClasses.Name(s), PaperClasses.Name(s))));
        sb.Append("<span id=\"catalog-count\">").Append(N(catalog.Count)).Append(" of ").Append(N(catalog.Count)).Append(" papers</span>\n</div>\n");

        sb.Append("<table class=\"catalog\" id=\"catalog-table\">\n<thead><tr><th>title</th><th>year</th><th>arXiv</th><th>class</th><th>group</th><th>status</th><th>where in the kit</th></tr></thead>\n<tbody>\n");
        foreach (var p in catalog) Row(sb, p);
        sb.Append("</tbody>\n</table>\n");
        sb.Append("<script>\n").Append(Script.Value).Append("</script>\n</main>\n");
        return SiteWriter.Foot(sb, options);
    }

    private static readonly Lazy<string> Script = new(() =>
    {
        using var stream = typeof(CatalogPage).Assembly.GetManifestResourceStream("AttnNotebooks.Runner.Site.catalog.js")
            ?? throw new InvalidOperationException("missing resource AttnNotebooks.Runner.Site.catalog.js");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    private static void CoverageTable(StringBuilder sb, CatalogCoverage coverage)
    {
        sb.Append("<table class=\"coverage\">\n<thead><tr><th>group</th><th>name</th><th>family + cache</th><th>with a library type</th><th>with a notebook section</th>")
          .Append("<th>phenomenon + system</th><th>with a library type</th><th>with a notebook section</th></tr></thead>\n<tbody>\n");
        void Line(string group, string name, CoverageCount a, CoverageCount b) =>
            sb.Append("<tr><td>").Append(Html.Escape(group)).Append("</td><td>").Append(Html.Escape(name)).Append("</td>")
              .Append($"<td class=\"n\">{N(a.Rows)}</td><td class=\"n\">{N(a.WithLibraryType)}</td><td class=\"n\">{N(a.WithNotebook)}</td>")
              .Append($"<td class=\"n\">{N(b.Rows)}</td><td class=\"n\">{N(b.WithLibraryType)}</td><td class=\"n\">{N(b.WithNotebook)}</td></tr>\n");
        foreach (var g in coverage.Groups) Line(g.Group, g.Name, g.FamilyAndCache, g.PhenomenonAndSystem);
        Line("all", "", coverage.FamilyAndCache, coverage.PhenomenonAndSystem);
        sb.Append("</tbody>\n</table>\n");
    }

    private static void Select(StringBuilder sb, string key, string all, IEnumerable<(string Value, string Label)> options)
    {
        sb.Append($"<select id=\"filter-{key}\" aria-label=\"{key}\"><option value=\"\">{all}</option>");
        foreach (var (value, label) in options) sb.Append("<option value=\"").Append(Html.Escape(value)).Append("\">").Append(Html.Escape(label)).Append("</option>");
        sb.Append("</select>\n");
    }

    private static void Row(StringBuilder sb, Paper p)
    {
        var search = string.Join(' ', new[] { p.Title, p.Id, p.Arxiv, p.Group, p.Summary, p.Reason }.Concat(p.LibraryTypes).Where(s => s is not null)).ToLowerInvariant();
        sb.Append($"<tr id=\"paper-{p.Id}\" data-class=\"{p.ClassName}\" data-group=\"{Html.Escape(p.Group ?? "")}\" data-status=\"{p.StatusName}\" data-search=\"{Html.Escape(search)}\">");
        sb.Append("<td><div class=\"paper-title\">").Append(Html.Escape(p.Title)).Append("</div><div class=\"paper-summary\">").Append(Html.Escape(p.Summary)).Append("</div></td>");
        sb.Append("<td>").Append(p.Year?.ToString(CultureInfo.InvariantCulture) ?? "").Append("</td>");
        sb.Append("<td>").Append(p.ArxivUrl is { } url ? $"<a href=\"{Html.Escape(url)}\">{Html.Escape(p.Arxiv!)}</a>" : "").Append("</td>");
        sb.Append("<td>").Append(p.ClassName).Append("</td><td>").Append(Html.Escape(p.Group ?? "")).Append("</td>");
        sb.Append($"<td><span class=\"badge {p.StatusName.Replace(' ', '-')}\">{p.StatusName}</span></td><td>");
        var where = new List<string>();
        where.AddRange(p.Notebook.Select(s => $"<a href=\"{Html.Escape(s.PageHref)}\">{Html.Escape(s.ToString())}</a>"));
        where.AddRange(p.LibraryTypes.Select(t => $"<code>{Html.Escape(t)}</code>"));
        if (p.Reason is { } reason && p.Class == PaperClass.Other) where.Add(Html.Escape(reason));
        sb.Append(string.Join("<br>", where)).Append("</td></tr>\n");
    }

    private static string N(int n) => n.ToString(CultureInfo.InvariantCulture);
}
