using System.Text.RegularExpressions;

namespace AttnKit.Catalog;

/// <summary>
/// The headings of a markdown text, found the way CommonMark finds them, for <see cref="Anchors"/>:
/// 1. ATX headings (<c># … ######</c> then a space), without their closing <c>#</c> run, also inside block quotes;
/// 2. setext headings (a paragraph underlined with <c>===</c> or <c>---</c>);
/// 3. nothing inside fenced code (<c>```</c>, <c>~~~</c>), display-math fences (<c>$$</c>) or indented code.
/// HTML blocks and headings nested in list items are not looked into.
/// </summary>
public static partial class MarkdownHeadings
{
    [GeneratedRegex(@"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")] private static partial Regex Atx();
    [GeneratedRegex(@"(^|[ \t]+)#+$")] private static partial Regex AtxClosing();
    [GeneratedRegex(@"^ {0,3}(`{3,}|~{3,})(.*)$")] private static partial Regex Fence();
    [GeneratedRegex(@"^ {0,3}(=+|-+)[ \t]*$")] private static partial Regex SetextUnderline();
    [GeneratedRegex(@"^ {0,3}([-*+]|\d{1,9}[.)])([ \t]|$)")] private static partial Regex ListItem();
    [GeneratedRegex(@"^ {0,3}([-*_])([ \t]*\1){2,}[ \t]*$")] private static partial Regex ThematicBreak();

    /// <summary>The inline markdown of each heading of <paramref name="markdown"/>, in order.</summary>
    public static IReadOnlyList<string> Texts(string markdown)
    {
        ArgumentNullException.ThrowIfNull(markdown);
        var headings = new List<string>();
        var paragraph = new List<string>();
        string? fence = null;                                  // the open fence's marker run, while inside one
        bool math = false;
        foreach (var raw in markdown.ReplaceLineEndings("\n").Split('\n'))
        {
            var line = raw.Replace("\t", "    ");
            if (fence is not null)
            {
                var close = Fence().Match(line);
                if (close.Success && close.Groups[1].Value[0] == fence[0] && close.Groups[1].Length >= fence.Length && close.Groups[2].Value.Trim().Length == 0) fence = null;
                continue;
            }
            if (math)
            {
                if (line.Trim().EndsWith("$$", StringComparison.Ordinal)) math = false;
                continue;
            }
            if (line.Trim().Length == 0) { paragraph.Clear(); continue; }
            if (paragraph.Count == 0 && Indent(line) >= 4) continue;                     // indented code
            var content = StripQuotes(line, out bool quoted);
            var open = Fence().Match(content);
            if (open.Success && !(open.Groups[1].Value[0] == '`' && open.Groups[2].Value.Contains('`')))
            {
                fence = open.Groups[1].Value;
                paragraph.Clear();
                continue;
            }
            var trimmed = content.TrimStart();
            if (trimmed.StartsWith("$$", StringComparison.Ordinal) && Indent(content) < 4)
            {
                math = !(trimmed.Length > 2 && trimmed.TrimEnd().EndsWith("$$", StringComparison.Ordinal));
                paragraph.Clear();
                continue;
            }
            var atx = Atx().Match(content);
            if (atx.Success)
            {
                var text = AtxClosing().Replace(atx.Groups[2].Value, "").Trim();
                if (text.Length > 0) headings.Add(text);
                paragraph.Clear();
                continue;
            }
            if (paragraph.Count > 0 && !quoted && SetextUnderline().IsMatch(content))
            {
                headings.Add(string.Join("\n", paragraph.Select(l => l.Trim())));
                paragraph.Clear();
                continue;
            }
            if (ThematicBreak().IsMatch(content) || ListItem().IsMatch(content) || quoted) { paragraph.Clear(); continue; }
            paragraph.Add(content);
        }
        return headings;
    }

    private static int Indent(string line) => line.Length - line.TrimStart(' ').Length;

    // "> > text" → "text"; a block quote's lines are not paragraph lines of the enclosing text
    private static string StripQuotes(string line, out bool quoted)
    {
        quoted = false;
        while (true)
        {
            int i = 0;
            while (i < line.Length && i < 3 && line[i] == ' ') i++;
            if (i >= line.Length || line[i] != '>') return line;
            quoted = true;
            line = line[(i + 1)..];
            if (line.StartsWith(' ')) line = line[1..];
        }
    }
}
