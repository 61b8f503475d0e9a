using System.Text;
using System.Text.Json;

namespace AttnKit.Catalog;

/// <summary>
/// Section anchors as the kit's site gives them to notebook headings (GitHub's rule, as Markdig's auto-identifiers
/// apply it), so the catalog can link to <c>00-start-here.html#a-first-attention</c> and a test can check that the
/// section exists:
/// 1. the heading's inline markdown becomes plain text (<see cref="PlainText"/>): code keeps its content, links and
///    images their text, emphasis markers, HTML tags and inline math go, entities and escapes are resolved;
/// 2. letters and digits are kept in lower case, '-' and '_' are kept, each space becomes '-', everything else goes;
///    an empty result is "section";
/// 3. on a page, a repeated anchor gets "-1", "-2" … (first inside one markdown cell, then across the page).
/// </summary>
public static class Anchors
{
    /// <summary>The anchor of a heading with this (inline markdown) text, steps 1–2.</summary>
    public static string Slug(string headingText)
    {
        ArgumentNullException.ThrowIfNull(headingText);
        var text = PlainText(headingText.ReplaceLineEndings(" ").Trim());
        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c) || c is '-' or '_') sb.Append(char.ToLowerInvariant(c));
            else if (c == ' ') sb.Append('-');
        }
        return sb.Length == 0 ? "section" : sb.ToString();
    }

    /// <summary>The anchors of a page made of these markdown cells, in order, made unique as the site makes them (step 3).</summary>
    public static IReadOnlyList<string> OfPage(IEnumerable<string> markdownCells)
    {
        ArgumentNullException.ThrowIfNull(markdownCells);
        var page = new HashSet<string>(StringComparer.Ordinal);
        var anchors = new List<string>();
        foreach (var cell in markdownCells)
        {
            var inCell = new HashSet<string>(StringComparer.Ordinal);
            foreach (var heading in MarkdownHeadings.Texts(cell))
            {
                var slug = Slug(heading);
                var id = slug;
                for (int n = 1; !inCell.Add(id); n++) id = $"{slug}-{n}";
                var unique = id;
                for (int n = 1; !page.Add(unique); n++) unique = $"{id}-{n}";
                anchors.Add(unique);
            }
        }
        return anchors;
    }

    /// <summary>The anchors of a notebook's (.ipynb) markdown cells, as its site page has them.</summary>
    /// <exception cref="FileNotFoundException">No notebook there.</exception>
    /// <exception cref="ArgumentException">Not an nbformat notebook.</exception>
    public static IReadOnlyList<string> OfNotebook(string ipynbPath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ipynbPath);
        if (!File.Exists(ipynbPath)) throw new FileNotFoundException($"no notebook at {Path.GetFullPath(ipynbPath)}", ipynbPath);
        using var doc = JsonDocument.Parse(File.ReadAllText(ipynbPath));
        if (!doc.RootElement.TryGetProperty("cells", out var cells) || cells.ValueKind != JsonValueKind.Array)
            throw new ArgumentException($"{ipynbPath}: not an nbformat 4 notebook (no \"cells\" array)", nameof(ipynbPath));
        var markdown = new List<string>();
        foreach (var cell in cells.EnumerateArray())
        {
            if (!cell.TryGetProperty("cell_type", out var type) || type.GetString() != "markdown" || !cell.TryGetProperty("source", out var source)) continue;
            markdown.Add(source.ValueKind == JsonValueKind.Array ? string.Concat(source.EnumerateArray().Select(s => s.GetString())) : source.GetString() ?? "");
        }
        return OfPage(markdown);
    }

    /// <summary>The plain text of inline markdown (step 1).</summary>
    public static string PlainText(string inline)
    {
        ArgumentNullException.ThrowIfNull(inline);
        return InlineText.Of(inline);
    }
}
