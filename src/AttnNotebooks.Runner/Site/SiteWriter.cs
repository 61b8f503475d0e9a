using System.Text;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Site;

/// <summary>What <see cref="SiteWriter.Write"/> wrote: the index page and one page per notebook (full paths).</summary>
public sealed record SiteResult(string IndexPath, IReadOnlyList<string> Pages);

/// <summary>
/// Writes a static, offline site from executed notebooks: <c>index.html</c>, one <c>NAME.html</c> per notebook (beside
/// the index, or in the same sub-folder as the notebook's relative name), and <c>assets/</c> (plotly.js with its licence,
/// the style sheet). Pages need no network: plotly.js is loaded from the assets before any output, math is MathML,
/// fonts are the system's.
/// </summary>
public static class SiteWriter
{
    /// <summary>
    /// Writes the site into <paramref name="outDir"/> (created if needed; other files there are left alone).
    /// <paramref name="notebooks"/>: each notebook with its name relative to the site (e.g. "00-start-here.ipynb"), in the
    /// order the index lists them.
    /// </summary>
    /// <exception cref="ArgumentException">A name is absolute, leaves the site folder, is repeated, or would overwrite the index or the assets.</exception>
    public static SiteResult Write(IReadOnlyList<(string RelativeName, Notebook Notebook)> notebooks, string outDir, SiteOptions options)
    {
        ArgumentNullException.ThrowIfNull(notebooks);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(outDir);
        var pages = notebooks.Select(n => PageName(n.RelativeName)).ToList();
        var duplicate = pages.GroupBy(p => p, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"two notebooks would both be written as {duplicate.Key}", nameof(notebooks));

        var root = Path.GetFullPath(outDir);
        Directory.CreateDirectory(root);
        SiteAssets.Write(root);
        var rendered = notebooks.Select(n => new NotebookPage(n.Notebook, Path.GetFileNameWithoutExtension(n.RelativeName))).ToList();
        var written = new List<string>();
        for (int i = 0; i < notebooks.Count; i++)
        {
            var path = Path.Combine(root, pages[i].Replace('/', Path.DirectorySeparatorChar));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var previous = i > 0 ? (pages[i - 1], rendered[i - 1].Title) : default((string, string)?);
            var next = i + 1 < notebooks.Count ? (pages[i + 1], rendered[i + 1].Title) : default((string, string)?);
            File.WriteAllText(path, Page(pages[i], notebooks[i].RelativeName, rendered[i], previous, next, options), new UTF8Encoding(false));
            written.Add(path);
        }
        var index = Path.Combine(root, "index.html");
        File.WriteAllText(index, Index(notebooks, pages, rendered, options), new UTF8Encoding(false));
        return new SiteResult(index, written);
    }

    /// <summary>The page's path inside the site, with forward slashes: the relative name with ".html" for its extension.</summary>
    public static string PageName(string relativeName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(relativeName);
        var name = relativeName.Replace('\\', '/');
        if (Path.IsPathRooted(name) || name.StartsWith('/')) throw new ArgumentException($"a notebook's name must be relative to the site: {relativeName}", nameof(relativeName));
        var parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Any(p => p is "." or "..")) throw new ArgumentException($"a notebook's name must stay inside the site: {relativeName}", nameof(relativeName));
        var page = string.Join('/', parts);
        page = (page.EndsWith(".ipynb", StringComparison.OrdinalIgnoreCase) ? page[..^".ipynb".Length] : page) + ".html";
        if (page.Equals("index.html", StringComparison.OrdinalIgnoreCase)) throw new ArgumentException($"a notebook named {relativeName} would overwrite the index page", nameof(relativeName));
        if (parts[0].Equals(SiteAssets.Folder, StringComparison.OrdinalIgnoreCase) && parts.Length > 1) throw new ArgumentException($"{relativeName} would be written among the site's assets", nameof(relativeName));
        return page;
    }

    /// <summary>The relative path from a page to the site's root folder ("" or "../" ...).</summary>
    private static string ToRoot(string page) => string.Concat(Enumerable.Repeat("../", page.Count(c => c == '/')));

    /// <summary>The relative link from one page of the site to another.</summary>
    private static string Link(string fromPage, string toPage) => ToRoot(fromPage) + toPage;

    private static string Page(string page, string relativeName, NotebookPage content, (string Page, string Title)? previous, (string Page, string Title)? next, SiteOptions options)
    {
        var up = ToRoot(page);
        var sb = Head(up, content.Title + " · " + options.Title);
        sb.Append("<header class=\"site-header\"><a class=\"home\" href=\"").Append(up).Append("index.html\">").Append(Html.Escape(options.Title)).Append("</a>");
        sb.Append("<span class=\"file\">").Append(Html.Escape(relativeName)).Append("</span>");
        if (options.Statuses?.TryGetValue(relativeName, out var status) == true) sb.Append(Status(status));
        sb.Append("</header>\n<div class=\"layout\">\n");
        var toc = content.Headings.Where(h => h.Level <= 3 && h.Id.Length > 0).ToList();
        if (toc.Count > 1)
        {
            sb.Append("<nav class=\"toc\" aria-label=\"contents\"><ul>\n");
            foreach (var h in toc)
                sb.Append($"<li class=\"toc-{h.Level}\"><a href=\"#{Html.Escape(h.Id)}\">").Append(h.Html.Contains("<a ", StringComparison.Ordinal) ? Html.Escape(h.Text) : h.Html).Append("</a></li>\n");
            sb.Append("</ul></nav>\n");
        }
        sb.Append("<main class=\"notebook\">\n").Append(content.BodyHtml);
        sb.Append("<nav class=\"pager\">");
        if (previous is { } p) sb.Append($"<a class=\"prev\" href=\"{Html.Escape(Link(page, p.Page))}\">← ").Append(Html.Escape(p.Title)).Append("</a>");
        sb.Append($"<a class=\"up\" href=\"{up}index.html\">index</a>");
        if (next is { } n) sb.Append($"<a class=\"next\" href=\"{Html.Escape(Link(page, n.Page))}\">").Append(Html.Escape(n.Title)).Append(" →</a>");
        sb.Append("</nav>\n</main>\n</div>\n");
        return Foot(sb, options);
    }

    private static string Index(IReadOnlyList<(string RelativeName, Notebook Notebook)> notebooks, List<string> pages, List<NotebookPage> rendered, SiteOptions options)
    {
        var sb = Head("", options.Title);
        sb.Append("<main class=\"index\">\n<h1>").Append(Html.Escape(options.Title)).Append("</h1>\n");
        if (options.Statuses is { Count: > 0 } statuses)
        {
            var known = notebooks.Select(n => statuses.GetValueOrDefault(n.RelativeName)).Where(s => s is not null).ToList();
            sb.Append($"<p class=\"summary\">{known.Count(s => s!.Passed)} passed, {known.Count(s => !s!.Passed)} failed</p>\n");
        }
        if (options.Links is { Count: > 0 } links)
        {
            sb.Append("<ul class=\"site-links\">\n");
            foreach (var link in links)
            {
                sb.Append($"<li><a href=\"{Html.Escape(link.Href)}\">").Append(Html.Escape(link.Title)).Append("</a>");
                if (link.Description is { Length: > 0 } d) sb.Append(" <span class=\"link-desc\">").Append(Html.Escape(d)).Append("</span>");
                sb.Append("</li>\n");
            }
            sb.Append("</ul>\n");
        }
        if (notebooks.Count == 0) sb.Append("<p>No notebooks.</p>\n");
        sb.Append("<ol class=\"notebooks\">\n");
        for (int i = 0; i < notebooks.Count; i++)
        {
            var page = rendered[i];
            // a heading that holds a link cannot sit inside the page's link
            var title = page.TitleHtml.Contains("<a ", StringComparison.Ordinal) ? Html.Escape(page.Title) : page.TitleHtml;
            sb.Append("<li>\n<div class=\"nb-head\">");
            sb.Append($"<a class=\"nb-link\" href=\"{Html.Escape(pages[i])}\">").Append(title).Append("</a>");
            if (options.Statuses?.TryGetValue(notebooks[i].RelativeName, out var status) == true) sb.Append(Status(status));
            sb.Append("</div>\n");
            if (page.DescriptionHtml is { } description) sb.Append("<div class=\"nb-desc\">").Append(description).Append("</div>\n");
            sb.Append("<div class=\"nb-file\">").Append(Html.Escape(notebooks[i].RelativeName)).Append("</div>\n</li>\n");
        }
        sb.Append("</ol>\n</main>\n");
        return Foot(sb, options);
    }

    private static string Status(NotebookStatus status)
    {
        var text = (status.Passed ? "passed" : "failed") + (status.Seconds is double s ? $" · {s:0.0} s" : "");
        var title = status.Message is { Length: > 0 } m ? $" title=\"{Html.Escape(m)}\"" : "";
        return $"<span class=\"status {(status.Passed ? "passed" : "failed")}\"{title}>{Html.Escape(text)}</span>";
    }

    /// <summary>The document's head: the style sheet, then plotly.js loaded synchronously so charts find it already there.</summary>
    internal static StringBuilder Head(string up, string title)
    {
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
          .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
          .Append("<title>").Append(Html.Escape(title)).Append("</title>\n")
          .Append("<link rel=\"icon\" href=\"data:,\">\n")
          .Append($"<link rel=\"stylesheet\" href=\"{up}{SiteAssets.Folder}/{SiteAssets.StyleSheet}\">\n")
          .Append($"<script src=\"{up}{SiteAssets.Folder}/{SiteAssets.PlotlyFile}\"></script>\n")
          .Append("</head>\n<body>\n");
        return sb;
    }

    internal static string Foot(StringBuilder sb, SiteOptions options)
    {
        if (options.Footer is { Length: > 0 } footer) sb.Append("<footer class=\"site-footer\">").Append(Html.Escape(footer)).Append("</footer>\n");
        return sb.Append("</body>\n</html>\n").ToString();
    }
}
