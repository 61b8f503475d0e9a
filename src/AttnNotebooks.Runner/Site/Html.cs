using System.Text;
using System.Text.RegularExpressions;

namespace AttnNotebooks.Runner.Site;

/// <summary>Small helpers for writing HTML by hand: escaping, ANSI stripping.</summary>
internal static partial class Html
{
    /// <summary>Escapes text for an HTML text node or a double-quoted attribute value.</summary>
    public static string Escape(string text)
    {
        if (text.AsSpan().IndexOfAny("&<>\"") < 0) return text;
        var sb = new StringBuilder(text.Length + 16);
        Escape(sb, text);
        return sb.ToString();
    }

    /// <summary>Appends <paramref name="text"/> escaped.</summary>
    public static void Escape(StringBuilder sb, ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            switch (c)
            {
                case '&': sb.Append("&amp;"); break;
                case '<': sb.Append("&lt;"); break;
                case '>': sb.Append("&gt;"); break;
                case '"': sb.Append("&quot;"); break;
                default: sb.Append(c); break;
            }
        }
    }

    /// <summary>Removes ANSI escape sequences (colours, cursor moves, OSC titles and links) from terminal text.</summary>
    public static string StripAnsi(string text) => text.Contains('\u001b') ? AnsiPattern().Replace(text, "") : text;

    [GeneratedRegex(@"\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|[@-Z\\-_])")]
    private static partial Regex AnsiPattern();
}
