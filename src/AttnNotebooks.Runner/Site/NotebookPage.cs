using System.Text;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Site;

/// <summary>
/// The body of one notebook's page: its cells in order (markdown rendered, code highlighted with its execution count,
/// outputs), with what the index and the page's frame need: a title, a one-paragraph description and the headings.
/// </summary>
public sealed class NotebookPage
{
    /// <summary>The cells as HTML.</summary>
    public string BodyHtml { get; }
    /// <summary>The first heading as plain text, else the notebook's file name.</summary>
    public string Title { get; }
    /// <summary>The first heading as HTML (math included), else the file name escaped.</summary>
    public string TitleHtml { get; }
    /// <summary>The first sentence of the first markdown paragraph, as HTML, or null.</summary>
    public string? DescriptionHtml { get; }
    /// <summary>Every markdown heading, in order, with its unique anchor id.</summary>
    public IReadOnlyList<SiteHeading> Headings { get; }

    /// <summary>Renders <paramref name="notebook"/>; <paramref name="fallbackTitle"/> names it when it has no heading.</summary>
    public NotebookPage(Notebook notebook, string fallbackTitle)
    {
        var usedIds = new HashSet<string>(StringComparer.Ordinal);
        var headings = new List<SiteHeading>();
        string? description = null;
        var sb = new StringBuilder();
        foreach (var cell in notebook.Cells)
        {
            switch (cell.CellType)
            {
                case "markdown":
                {
                    var md = MarkdownRenderer.Render(cell.Source, usedIds, cell.Json["attachments"] as System.Text.Json.Nodes.JsonObject);
                    headings.AddRange(md.Headings);
                    description ??= md.SummaryHtml;
                    sb.Append($"<section class=\"cell markdown\" id=\"cell-{cell.Number}\">\n").Append(md.Html).Append("</section>\n");
                    break;
                }
                case "code":
                    Code(sb, cell);
                    break;
                default:
                    sb.Append($"<section class=\"cell raw\" id=\"cell-{cell.Number}\"><pre class=\"raw\">").Append(Html.Escape(cell.Source)).Append("</pre></section>\n");
                    break;
            }
        }
        BodyHtml = sb.ToString();
        Headings = headings;
        DescriptionHtml = description;
        var first = headings.FirstOrDefault();
        Title = first is { Text.Length: > 0 } ? first.Text : fallbackTitle;
        TitleHtml = first is { Html.Length: > 0 } ? first.Html : Html.Escape(fallbackTitle);
    }

    private static void Code(StringBuilder sb, NotebookCell cell)
    {
        var count = cell.ExecutionCount?.ToString() ?? " ";
        var source = cell.Source.TrimEnd('\n', '\r');
        var code = cell.Kernel == "csharp" ? CSharpHighlighter.ToHtml(source) : Html.Escape(source);
        var language = Html.Escape(cell.Kernel);
        sb.Append($"<section class=\"cell code\" id=\"cell-{cell.Number}\">\n")
          .Append($"<div class=\"input\"><div class=\"prompt\">In [{count}]:</div>")
          .Append($"<pre class=\"source\"><code class=\"language-{language}\">").Append(code).Append("</code></pre></div>\n");
        if (cell.Json["outputs"] is System.Text.Json.Nodes.JsonArray { Count: > 0 } outputs) sb.Append(OutputRenderer.Render(outputs));
        sb.Append("</section>\n");
    }
}
