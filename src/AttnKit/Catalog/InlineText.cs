using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace AttnKit.Catalog;

/// <summary>
/// The plain text of one line of inline markdown, as a renderer with HTML turned off writes it: code spans keep their
/// content, links and images their text, autolinks their address; HTML tags and inline math (<c>$…$</c>) are dropped;
/// entities and backslash escapes are resolved; underscore emphasis is matched with CommonMark's flanking rules so that
/// intra-word and unmatched underscores stay. Other emphasis markers stay too (the anchor rule drops them anyway).
/// </summary>
internal static partial class InlineText
{
    [GeneratedRegex(@"^\s*(<[^<>\n]*>|[^\s()]*(\([^\s()]*\)[^\s()]*)*)(\s+(""[^""]*""|'[^']*'|\([^()]*\)))?\s*$")] private static partial Regex LinkTarget();
    [GeneratedRegex(@"^<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*)>")] private static partial Regex UriAutolink();
    [GeneratedRegex(@"^<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*)>")] private static partial Regex EmailAutolink();
    [GeneratedRegex(@"^(<!--.*?-->|</?[A-Za-z][A-Za-z0-9\-]*(\s+[A-Za-z_:][A-Za-z0-9_.:\-]*(\s*=\s*(""[^""]*""|'[^']*'|[^\s""'=<>`]+))?)*\s*/?>)")] private static partial Regex HtmlTag();
    [GeneratedRegex(@"^&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")] private static partial Regex Entity();

    private sealed class UnderscoreRun(int count, bool canOpen, bool canClose)
    {
        public int Remaining = count;
        public readonly bool CanOpen = canOpen, CanClose = canClose;
    }

    public static string Of(string s)
    {
        var tokens = new List<object>();                       // string pieces and underscore runs
        var text = new StringBuilder();
        void Flush() { if (text.Length > 0) { tokens.Add(text.ToString()); text.Clear(); } }
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == '\\' && i + 1 < s.Length && IsAsciiPunctuation(s[i + 1]))
            {
                text.Append(s[i + 1]);
                i += 2;
            }
            else if (c == '`' && CodeSpan(s, i, out var code, out var end)) { text.Append(code); i = end; }
            else if (c == '`') { int n = RunLength(s, i, '`'); text.Append('`', n); i += n; }
            else if (c == '$' && MathSpan(s, i, out var afterMath)) i = afterMath;
            else if (c == '!' && i + 1 < s.Length && s[i + 1] == '[' && Link(s, i + 1, out var alt, out var afterImage)) { text.Append(Of(alt)); i = afterImage; }
            else if (c == '[' && Link(s, i, out var label, out var afterLink)) { text.Append(Of(label)); i = afterLink; }
            else if (c == '<' && Autolink(s, i, out var address, out var afterAuto)) { text.Append(address); i = afterAuto; }
            else if (c == '<' && HtmlTag().Match(s[i..]) is { Success: true } tag) i += tag.Length;
            else if (c == '&' && Entity().Match(s[i..]) is { Success: true } entity && WebUtility.HtmlDecode(entity.Value) is var decoded && decoded != entity.Value)
            {
                text.Append(decoded);
                i += entity.Length;
            }
            else if (c == '_')
            {
                int n = RunLength(s, i, '_');
                char before = i > 0 ? s[i - 1] : ' ', after = i + n < s.Length ? s[i + n] : ' ';
                bool left = !char.IsWhiteSpace(after) && (!IsPunctuation(after) || char.IsWhiteSpace(before) || IsPunctuation(before));
                bool right = !char.IsWhiteSpace(before) && (!IsPunctuation(before) || char.IsWhiteSpace(after) || IsPunctuation(after));
                Flush();
                tokens.Add(new UnderscoreRun(n, left && (!right || IsPunctuation(before)), right && (!left || IsPunctuation(after))));
                i += n;
            }
            else { text.Append(c); i++; }
        }
        Flush();
        MatchEmphasis(tokens);
        var result = new StringBuilder();
        foreach (var t in tokens) result.Append(t is UnderscoreRun r ? new string('_', r.Remaining) : (string)t);
        return result.ToString();
    }

    // CommonMark's delimiter matching, for underscores only: each closer takes the nearest opener before it; what stays
    // unmatched is written as underscores.
    private static void MatchEmphasis(List<object> tokens)
    {
        var openers = new List<UnderscoreRun>();
        foreach (var run in tokens.OfType<UnderscoreRun>())
        {
            if (run.CanClose)
            {
                while (run.Remaining > 0 && openers.Count > 0)
                {
                    var opener = openers[^1];
                    int used = Math.Min(opener.Remaining, run.Remaining) >= 2 ? 2 : 1;
                    opener.Remaining -= used;
                    run.Remaining -= used;
                    if (opener.Remaining == 0) openers.RemoveAt(openers.Count - 1);
                }
            }
            if (run.CanOpen && run.Remaining > 0) openers.Add(run);
        }
    }

    private static bool CodeSpan(string s, int start, out string code, out int end)
    {
        int n = RunLength(s, start, '`');
        for (int j = start + n; j < s.Length; j++)
        {
            if (s[j] != '`') continue;
            int m = RunLength(s, j, '`');
            if (m == n)
            {
                code = s[(start + n)..j].Replace('\n', ' ');
                if (code.Length >= 2 && code[0] == ' ' && code[^1] == ' ' && code.Trim().Length > 0) code = code[1..^1];
                end = j + m;
                return true;
            }
            j += m - 1;
        }
        (code, end) = ("", start);
        return false;
    }

    // $…$ or $$…$$: the opening run is not followed by a space, the closing one (same length) not preceded by one
    private static bool MathSpan(string s, int start, out int end)
    {
        int n = Math.Min(RunLength(s, start, '$'), 2);
        end = start;
        if (start + n >= s.Length || char.IsWhiteSpace(s[start + n])) return false;
        for (int j = start + n + 1; j < s.Length; j++)
        {
            if (s[j] == '\\') { j++; continue; }
            if (s[j] != '$') continue;
            int m = RunLength(s, j, '$');
            if (m >= n && !char.IsWhiteSpace(s[j - 1])) { end = j + n; return true; }
            j += m - 1;
        }
        return false;
    }

    // [label](target): the label's brackets balance, and the target is a destination with an optional title
    private static bool Link(string s, int start, out string label, out int end)
    {
        (label, end) = ("", start);
        int depth = 0, j = start;
        for (; j < s.Length; j++)
        {
            if (s[j] == '\\') { j++; continue; }
            if (s[j] == '`' && CodeSpan(s, j, out _, out var after)) { j = after - 1; continue; }
            if (s[j] == '[') depth++;
            else if (s[j] == ']' && --depth == 0) break;
        }
        if (j >= s.Length - 1 || s[j + 1] != '(') return false;
        int close = -1, parens = 0;
        for (int k = j + 1; k < s.Length; k++)
        {
            if (s[k] == '\\') { k++; continue; }
            if (s[k] == '(') parens++;
            else if (s[k] == ')' && --parens == 0) { close = k; break; }
        }
        if (close < 0 || !LinkTarget().IsMatch(s[(j + 2)..close])) return false;
        (label, end) = (s[(start + 1)..j], close + 1);
        return true;
    }

    private static bool Autolink(string s, int start, out string address, out int end)
    {
        var m = UriAutolink().Match(s[start..]);
        if (!m.Success) m = EmailAutolink().Match(s[start..]);
        (address, end) = m.Success ? (m.Groups[1].Value, start + m.Length) : ("", start);
        return m.Success;
    }

    private static int RunLength(string s, int start, char c)
    {
        int n = 0;
        while (start + n < s.Length && s[start + n] == c) n++;
        return n;
    }

    private static bool IsAsciiPunctuation(char c) => c < 128 && (char.IsPunctuation(c) || char.IsSymbol(c));

    private static bool IsPunctuation(char c) => char.IsPunctuation(c) || char.IsSymbol(c);
}
