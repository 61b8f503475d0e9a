using System.Text;
using System.Text.Json.Nodes;
using Markdig;
using Markdig.Extensions.AutoIdentifiers;
using Markdig.Extensions.Mathematics;
using Markdig.Renderers;
using Markdig.Renderers.Html;
using Markdig.Syntax;
using Markdig.Syntax.Inlines;

namespace AttnNotebooks.Runner.Site;

/// <summary>A heading of a rendered page: level, anchor id, inner HTML and plain text.</summary>
public sealed record SiteHeading(int Level, string Id, string Html, string Text);

/// <summary>Markdown rendered to HTML, with its headings and, as a summary, the first sentence of its first paragraph (HTML).</summary>
public sealed record RenderedMarkdown(string Html, IReadOnlyList<SiteHeading> Headings, string? SummaryHtml);

/// <summary>
/// Markdown cells to HTML with Markdig: CommonMark plus pipe and grid tables, footnotes, task lists, emphasis extras and
/// the rest of Markdig's advanced set (media links left out: they embed remote players), GitHub-style heading ids, and
/// <c>$…$</c> / <c>$$…$$</c> math written as MathML by <see cref="TexToMathML"/>.
/// </summary>
public static class MarkdownRenderer
{
    /// <summary>The pipeline every page uses.</summary>
    public static MarkdownPipeline Pipeline { get; } = new MarkdownPipelineBuilder()
        .UseAlertBlocks()
        .UseAbbreviations()
        .UseAutoIdentifiers(AutoIdentifierOptions.GitHub)
        .UseCitations()
        .UseCustomContainers()
        .UseDefinitionLists()
        .UseEmphasisExtras()
        .UseFigures()
        .UseFooters()
        .UseFootnotes()
        .UseGridTables()
        .UseMathematics()
        .UsePipeTables()
        .UseListExtras()
        .UseTaskLists()
        .UseAutoLinks()
        .UseGenericAttributes()
        .Use<MathMLExtension>()
        .Build();

    /// <summary>
    /// The anchor id a heading with this text gets on a page (GitHub's rule, as Markdig's auto-identifiers apply it), for
    /// links like <c>01-attention.html#the-softmax</c>. A page makes repeated headings unique with "-1", "-2" ... suffixes.
    /// </summary>
    public static string Slug(string headingText)
    {
        var doc = Markdown.Parse("# " + headingText.ReplaceLineEndings(" "), Pipeline);
        return doc.Descendants<HeadingBlock>().FirstOrDefault()?.GetAttributes().Id ?? "";
    }

    /// <summary>
    /// Renders one markdown cell. <paramref name="usedIds"/> holds the ids already on the page, so headings repeated across
    /// cells still get unique anchors; <paramref name="attachments"/> is the cell's nbformat attachments object, if any.
    /// </summary>
    public static RenderedMarkdown Render(string markdown, ISet<string>? usedIds = null, JsonObject? attachments = null)
    {
        var doc = Markdown.Parse(markdown, Pipeline);
        if (attachments is not null) ResolveAttachments(doc, attachments);
        GluePunctuation(doc);
        var headings = new List<SiteHeading>();
        foreach (var heading in doc.Descendants<HeadingBlock>())
        {
            var attributes = heading.GetAttributes();
            if (usedIds is not null && attributes.Id is { Length: > 0 } id)
            {
                var unique = id;
                for (int n = 1; !usedIds.Add(unique); n++) unique = $"{id}-{n}";
                attributes.Id = unique;
            }
            headings.Add(new SiteHeading(heading.Level, attributes.Id ?? "", InlineHtml(heading), PlainText(heading.Inline)));
        }
        var paragraph = doc.Descendants<ParagraphBlock>().FirstOrDefault(p => p.Parent is MarkdownDocument);
        return new RenderedMarkdown(ToHtml(doc), headings, paragraph is null ? null : FirstSentenceHtml(paragraph));
    }

    /// <summary>The plain text of inline content (math as its TeX, code as its text).</summary>
    public static string PlainText(ContainerInline? inline)
    {
        if (inline is null) return "";
        var sb = new StringBuilder();
        foreach (var child in inline)
        {
            switch (child)
            {
                case LiteralInline literal: sb.Append(literal.Content.ToString()); break;
                case CodeInline code: sb.Append(code.Content); break;
                case MathInline math: sb.Append(math.Content.ToString()).Append(math.GetData(TrailingKey) as string); break;
                case LineBreakInline: sb.Append(' '); break;
                case ContainerInline container: sb.Append(PlainText(container)); break;
            }
        }
        return sb.ToString().Trim();
    }

    private static string ToHtml(MarkdownObject node)
    {
        using var writer = new StringWriter();
        var renderer = new HtmlRenderer(writer);
        Pipeline.Setup(renderer);
        renderer.Render(node);
        writer.Flush();
        return writer.ToString();
    }

    private static string InlineHtml(LeafBlock block)
    {
        using var writer = new StringWriter();
        var renderer = new HtmlRenderer(writer);
        Pipeline.Setup(renderer);
        renderer.WriteLeafInline(block);
        writer.Flush();
        return writer.ToString().Trim();
    }

    private const string TrailingKey = "attn-trailing-punctuation";

    /// <summary>
    /// Moves the punctuation right after inline math (<c>$x$.</c>) into the math's own span, so a line never breaks
    /// between a formula and its full stop. Done once per parsed document, before any rendering.
    /// </summary>
    private static void GluePunctuation(MarkdownDocument doc)
    {
        foreach (var math in doc.Descendants<MathInline>())
        {
            if (math.NextSibling is not LiteralInline literal) continue;
            var content = literal.Content;
            int n = 0;
            while (n < 3 && n < content.Length && ".,;:!?)".Contains(content[content.Start + n])) n++;
            if (n == 0) continue;
            math.SetData(TrailingKey, content.Text.Substring(content.Start, n));
            literal.Content = new Markdig.Helpers.StringSlice(content.Text, content.Start + n, content.End);
        }
    }

    /// <summary>A paragraph's inline HTML up to the end of its first sentence (a full stop, ! or ? before a space or the end).</summary>
    private static string FirstSentenceHtml(ParagraphBlock paragraph)
    {
        using var writer = new StringWriter();
        var renderer = new HtmlRenderer(writer);
        Pipeline.Setup(renderer);
        foreach (var inline in paragraph.Inline ?? [])
        {
            if (inline is LiteralInline literal)
            {
                var text = literal.Content.ToString();
                bool atStart = text.Length > 0 && char.IsWhiteSpace(text[0]) && EndsSentence(literal.PreviousSibling);
                int end = SentenceEnd(text, atStart, breakAfter: literal.NextSibling is null or LineBreakInline);
                if (end >= 0)
                {
                    renderer.WriteEscape(text[..end].TrimEnd());
                    break;
                }
            }
            if (inline is LineBreakInline) renderer.Write(" ");
            else renderer.Write(inline);
        }
        writer.Flush();
        return writer.ToString().Trim();

        static bool EndsSentence(Inline? previous) => previous is MathInline math && math.GetData(TrailingKey) is string p && p[^1] is '.' or '!' or '?';

        // where the first sentence of a literal ends (after its stop), or -1
        static int SentenceEnd(string text, bool atStart, bool breakAfter)
        {
            if (atStart) return 0;
            for (int i = 0; i < text.Length; i++)
            {
                if (text[i] is not ('.' or '!' or '?')) continue;
                if (i + 1 < text.Length ? char.IsWhiteSpace(text[i + 1]) : breakAfter) return i + 1;
            }
            return -1;
        }
    }

    /// <summary>Points <c>![x](attachment:name.png)</c> images at data URIs made from the cell's attachments.</summary>
    private static void ResolveAttachments(MarkdownDocument doc, JsonObject attachments)
    {
        foreach (var link in doc.Descendants<LinkInline>())
        {
            if (link.Url is not { } url || !url.StartsWith("attachment:", StringComparison.Ordinal)) continue;
            if (attachments[url["attachment:".Length..]] is not JsonObject bundle) continue;
            var (mime, value) = bundle.FirstOrDefault(kv => kv.Key.StartsWith("image/", StringComparison.Ordinal));
            if (value is null) continue;
            var data = OutputRenderer.Text(value);
            link.Url = data.Contains('<') // SVG kept as text
                ? "data:image/svg+xml;base64," + Convert.ToBase64String(Encoding.UTF8.GetBytes(data))
                : $"data:{mime};base64,{string.Concat(data.Where(c => !char.IsWhiteSpace(c)))}";
        }
    }

    /// <summary>Replaces Markdig's math renderers (which leave TeX for a script) with MathML written here.</summary>
    private sealed class MathMLExtension : IMarkdownExtension
    {
        public void Setup(MarkdownPipelineBuilder pipeline) { }

        public void Setup(MarkdownPipeline pipeline, IMarkdownRenderer renderer)
        {
            if (renderer is not HtmlRenderer html) return;
            html.ObjectRenderers.ReplaceOrAdd<HtmlMathInlineRenderer>(new InlineMath());
            html.ObjectRenderers.ReplaceOrAdd<HtmlMathBlockRenderer>(new BlockMath());
        }
    }

    private sealed class InlineMath : HtmlObjectRenderer<MathInline>
    {
        protected override void Write(HtmlRenderer renderer, MathInline math)
        {
            var element = TexToMathML.ToMathElement(math.Content.ToString(), display: math.DelimiterCount >= 2);
            if (math.GetData(TrailingKey) is string punctuation)
                renderer.Write("<span class=\"nowrap\">").Write(element).WriteEscape(punctuation).Write("</span>");
            else
                renderer.Write(element);
        }
    }

    private sealed class BlockMath : HtmlObjectRenderer<MathBlock>
    {
        protected override void Write(HtmlRenderer renderer, MathBlock math)
        {
            var lines = math.Lines.Lines.Take(math.Lines.Count).Select(l => l.Slice.ToString());
            renderer.EnsureLine();
            renderer.Write("<div class=\"math-block\">");
            renderer.Write(TexToMathML.ToMathElement(string.Join("\n", lines), display: true));
            renderer.WriteLine("</div>");
        }
    }
}
