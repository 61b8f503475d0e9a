using System.Text;

namespace AttnNotebooks.Runner.Site;

/// <summary>
/// A small C# highlighter for notebook cells: it splits source into keywords, strings (regular, verbatim, interpolated,
/// raw), characters, comments, numbers, directive lines (<c>#r</c>, <c>#load</c>, <c>#!csharp</c>, <c>#nullable</c>),
/// method names and the rest, and writes each as <c>&lt;span class="tok-…"&gt;</c> with everything HTML-escaped.
/// It never fails: text it does not understand is written as plain, escaped text.
/// </summary>
/// <remarks>Token classes: <c>tok-kw</c>, <c>tok-str</c>, <c>tok-chr</c>, <c>tok-com</c>, <c>tok-num</c>, <c>tok-pp</c>, <c>tok-fn</c>.</remarks>
public static class CSharpHighlighter
{
    private static readonly HashSet<string> Keywords =
    [
        "abstract", "as", "base", "bool", "break", "byte", "case", "catch", "char", "checked", "class", "const", "continue",
        "decimal", "default", "delegate", "do", "double", "else", "enum", "event", "explicit", "extern", "false", "finally",
        "fixed", "float", "for", "foreach", "goto", "if", "implicit", "in", "int", "interface", "internal", "is", "lock",
        "long", "namespace", "new", "null", "object", "operator", "out", "override", "params", "private", "protected",
        "public", "readonly", "ref", "return", "sbyte", "sealed", "short", "sizeof", "stackalloc", "static", "string",
        "struct", "switch", "this", "throw", "true", "try", "typeof", "uint", "ulong", "unchecked", "unsafe", "ushort",
        "using", "virtual", "void", "volatile", "while",
        // contextual keywords (the ones that are rarely names)
        "and", "async", "await", "dynamic", "get", "init", "nameof", "nint", "not", "notnull", "nuint", "or", "partial",
        "record", "required", "scoped", "set", "var", "when", "with", "yield",
    ];

    /// <summary>Highlights C# source as HTML (no enclosing element).</summary>
    public static string ToHtml(string source)
    {
        var sb = new StringBuilder(source.Length * 2);
        Highlight(sb, source.Replace("\r\n", "\n"));
        return sb.ToString();
    }

    private static void Highlight(StringBuilder sb, string s)
    {
        int i = 0;
        bool lineStart = true;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '\n') { sb.Append('\n'); i++; lineStart = true; continue; }
            if (c is ' ' or '\t' or '\r') { sb.Append(c); i++; continue; }
            if (lineStart && c == '#')
            {
                int end = LineEnd(s, i);
                Span(sb, "tok-pp", s.AsSpan(i, end - i));
                i = end;
                continue;
            }
            lineStart = false;
            if (c == '/' && At(s, i + 1) == '/')
            {
                int end = LineEnd(s, i);
                Span(sb, "tok-com", s.AsSpan(i, end - i));
                i = end;
            }
            else if (c == '/' && At(s, i + 1) == '*')
            {
                int close = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
                int end = close < 0 ? s.Length : close + 2;
                Span(sb, "tok-com", s.AsSpan(i, end - i));
                i = end;
            }
            else if (IsStringStart(s, i, out int prefix))
            {
                i = String(sb, s, i, prefix);
            }
            else if (c == '\'')
            {
                int end = CharEnd(s, i);
                Span(sb, "tok-chr", s.AsSpan(i, end - i));
                i = end;
            }
            else if (char.IsAsciiDigit(c) || (c == '.' && char.IsAsciiDigit(At(s, i + 1))))
            {
                int end = NumberEnd(s, i);
                Span(sb, "tok-num", s.AsSpan(i, end - i));
                i = end;
            }
            else if (c == '@' && IsIdentStart(At(s, i + 1)))
            {
                int end = IdentEnd(s, i + 1);
                Html.Escape(sb, s.AsSpan(i, end - i));
                i = end;
            }
            else if (IsIdentStart(c))
            {
                int end = IdentEnd(s, i);
                var word = s[i..end];
                if (Keywords.Contains(word)) Span(sb, "tok-kw", word);
                else if (NextNonSpace(s, end) == '(') Span(sb, "tok-fn", word);
                else Html.Escape(sb, word);
                i = end;
            }
            else
            {
                Html.Escape(sb, s.AsSpan(i, 1));
                i++;
            }
        }
    }

    /// <summary>Whether a string literal starts at <paramref name="i"/>; <paramref name="prefix"/> counts its <c>$</c> and <c>@</c> signs.</summary>
    private static bool IsStringStart(string s, int i, out int prefix)
    {
        prefix = 0;
        int j = i;
        while (j < s.Length && (s[j] == '$' || s[j] == '@') && j - i < 8) j++;
        if (At(s, j) != '"') return false;
        prefix = j - i;
        // a lone '@' is only a verbatim string when followed by a quote, which is the case here
        return true;
    }

    /// <summary>Writes the string literal starting at <paramref name="start"/> and returns the index after it.</summary>
    private static int String(StringBuilder sb, string s, int start, int prefix)
    {
        var sigils = s.AsSpan(start, prefix);
        int dollars = sigils.Count('$');
        bool verbatim = sigils.Contains('@');
        int i = start + prefix;
        int quotes = 0;
        while (At(s, i + quotes) == '"') quotes++;
        if (quotes >= 3) return RawString(sb, s, start, i, quotes, dollars);
        if (quotes == 2 && !verbatim)
        {
            // "" : the empty string
            Span(sb, "tok-str", s.AsSpan(start, i + 2 - start));
            return i + 2;
        }
        int segment = start;
        i++; // opening quote
        while (i < s.Length)
        {
            char c = s[i];
            if (!verbatim && c == '\\') { i += 2; continue; }
            if (!verbatim && c == '\n') break; // unterminated: stop at the line end
            if (c == '"')
            {
                if (verbatim && At(s, i + 1) == '"') { i += 2; continue; }
                i++;
                Span(sb, "tok-str", s.AsSpan(segment, i - segment));
                return i;
            }
            if (dollars > 0 && c == '{')
            {
                if (At(s, i + 1) == '{') { i += 2; continue; }
                Span(sb, "tok-str", s.AsSpan(segment, i + 1 - segment));
                int close = HoleEnd(s, i + 1);
                Highlight(sb, s[(i + 1)..close]);
                i = close;
                segment = i;
                continue;
            }
            i++;
        }
        i = Math.Min(i, s.Length);
        Span(sb, "tok-str", s.AsSpan(segment, i - segment));
        return i;
    }

    /// <summary>A raw string literal (<c>"""…"""</c>), with its interpolation holes when it has <c>$</c> signs.</summary>
    private static int RawString(StringBuilder sb, string s, int start, int open, int quotes, int dollars)
    {
        var fence = new string('"', quotes);
        int close = s.IndexOf(fence, open + quotes, StringComparison.Ordinal);
        int end = close < 0 ? s.Length : close + quotes;
        if (dollars == 0)
        {
            Span(sb, "tok-str", s.AsSpan(start, end - start));
            return end;
        }
        var braces = new string('{', dollars);
        int segment = start, i = open + quotes;
        while (i < end - (close < 0 ? 0 : quotes))
        {
            if (string.CompareOrdinal(s, i, braces, 0, dollars) == 0 && At(s, i + dollars) != '{')
            {
                Span(sb, "tok-str", s.AsSpan(segment, i + dollars - segment));
                int holeEnd = HoleEnd(s, i + dollars);
                Highlight(sb, s[(i + dollars)..holeEnd]);
                i = holeEnd;
                while (At(s, i) == '}' && i < end) { sb.Append("<span class=\"tok-str\">}</span>"); i++; }
                segment = i;
                continue;
            }
            i++;
        }
        Span(sb, "tok-str", s.AsSpan(segment, Math.Max(0, end - segment)));
        return end;
    }

    /// <summary>The index of the <c>}</c> that closes an interpolation hole starting at <paramref name="i"/> (or the text's end).</summary>
    private static int HoleEnd(string s, int i)
    {
        int depth = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '{') depth++;
            else if (c == '}') { if (depth == 0) return i; depth--; }
            else if (c == '\n' && depth == 0 && At(s, i + 1) == '\n') return i;
            else if (c == '\'') { i = CharEnd(s, i); continue; }
            else if (IsStringStart(s, i, out int prefix))
            {
                // skip a nested string without writing it
                i = String(new StringBuilder(), s, i, prefix);
                continue;
            }
            i++;
        }
        return s.Length;
    }

    private static int CharEnd(string s, int i)
    {
        int j = i + 1;
        if (At(s, j) == '\\') j += 2; else j++;
        while (j < s.Length && j - i < 12 && s[j] != '\'' && s[j] != '\n') j++;
        return At(s, j) == '\'' ? j + 1 : i + 1;
    }

    private static int NumberEnd(string s, int i)
    {
        int j = i;
        if (s[j] == '0' && (At(s, j + 1) is 'x' or 'X' or 'b' or 'B'))
        {
            j += 2;
            while (char.IsAsciiHexDigit(At(s, j)) || At(s, j) == '_') j++;
        }
        else
        {
            while (char.IsAsciiDigit(At(s, j)) || At(s, j) == '_') j++;
            if (At(s, j) == '.' && char.IsAsciiDigit(At(s, j + 1))) { j++; while (char.IsAsciiDigit(At(s, j)) || At(s, j) == '_') j++; }
            if (At(s, j) is 'e' or 'E' && (char.IsAsciiDigit(At(s, j + 1)) || (At(s, j + 1) is '+' or '-' && char.IsAsciiDigit(At(s, j + 2)))))
            {
                j += 2;
                while (char.IsAsciiDigit(At(s, j))) j++;
            }
        }
        while (At(s, j) is 'f' or 'F' or 'd' or 'D' or 'm' or 'M' or 'l' or 'L' or 'u' or 'U') j++;
        return j;
    }

    private static bool IsIdentStart(char c) => char.IsLetter(c) || c == '_';
    private static int IdentEnd(string s, int i)
    {
        while (i < s.Length && (char.IsLetterOrDigit(s[i]) || s[i] == '_')) i++;
        return i;
    }

    private static int LineEnd(string s, int i)
    {
        int n = s.IndexOf('\n', i);
        return n < 0 ? s.Length : n;
    }

    private static char NextNonSpace(string s, int i)
    {
        while (i < s.Length && s[i] is ' ' or '\t') i++;
        return At(s, i);
    }

    private static char At(string s, int i) => i >= 0 && i < s.Length ? s[i] : '\0';

    private static void Span(StringBuilder sb, string cls, ReadOnlySpan<char> text)
    {
        if (text.IsEmpty) return;
        sb.Append("<span class=\"").Append(cls).Append("\">");
        Html.Escape(sb, text);
        sb.Append("</span>");
    }
}
