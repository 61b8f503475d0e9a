using System.Text;

namespace AttnNotebooks.Runner.Site;

/// <summary>The math alphabets of <c>\mathbf</c>, <c>\mathbb</c>, <c>\mathcal</c> ...</summary>
internal enum MathFont { Default, Upright, Bold, BoldItalic, Italic, Script, Fraktur, DoubleStruck, SansSerif, Monospace }

/// <summary>
/// Maps letters and digits to Unicode's Mathematical Alphanumeric Symbols. MathML Core (what Chromium renders) ignores
/// <c>mathvariant</c> except "normal", so styled letters are written as their own code points, as TeX fonts would draw them.
/// </summary>
internal static class MathAlphabets
{
    // first code point of the capital A of each alphabet; lower case a follows 26 later
    private static int LatinBase(MathFont font) => font switch
    {
        MathFont.Bold => 0x1D400,
        MathFont.Italic => 0x1D434,
        MathFont.BoldItalic => 0x1D468,
        MathFont.Script => 0x1D49C,
        MathFont.Fraktur => 0x1D504,
        MathFont.DoubleStruck => 0x1D538,
        MathFont.SansSerif => 0x1D5A0,
        MathFont.Monospace => 0x1D670,
        _ => 0,
    };

    private static int DigitBase(MathFont font) => font switch
    {
        MathFont.Bold or MathFont.BoldItalic => 0x1D7CE,
        MathFont.DoubleStruck => 0x1D7D8,
        MathFont.SansSerif => 0x1D7E2,
        MathFont.Monospace => 0x1D7F6,
        _ => 0,
    };

    // letters whose styled forms live in the Letterlike Symbols block (holes in the math alphabets)
    private static readonly Dictionary<(MathFont, char), char> Holes = new()
    {
        [(MathFont.Italic, 'h')] = 'ℎ',
        [(MathFont.Script, 'B')] = 'ℬ', [(MathFont.Script, 'E')] = 'ℰ', [(MathFont.Script, 'F')] = 'ℱ', [(MathFont.Script, 'H')] = 'ℋ',
        [(MathFont.Script, 'I')] = 'ℐ', [(MathFont.Script, 'L')] = 'ℒ', [(MathFont.Script, 'M')] = 'ℳ', [(MathFont.Script, 'R')] = 'ℛ',
        [(MathFont.Script, 'e')] = 'ℯ', [(MathFont.Script, 'g')] = 'ℊ', [(MathFont.Script, 'o')] = 'ℴ',
        [(MathFont.Fraktur, 'C')] = 'ℭ', [(MathFont.Fraktur, 'H')] = 'ℌ', [(MathFont.Fraktur, 'I')] = 'ℑ', [(MathFont.Fraktur, 'R')] = 'ℜ',
        [(MathFont.Fraktur, 'Z')] = 'ℨ',
        [(MathFont.DoubleStruck, 'C')] = 'ℂ', [(MathFont.DoubleStruck, 'H')] = 'ℍ', [(MathFont.DoubleStruck, 'N')] = 'ℕ',
        [(MathFont.DoubleStruck, 'P')] = 'ℙ', [(MathFont.DoubleStruck, 'Q')] = 'ℚ', [(MathFont.DoubleStruck, 'R')] = 'ℝ',
        [(MathFont.DoubleStruck, 'Z')] = 'ℤ',
    };

    /// <summary>The styled form of an ASCII letter or digit, or the character itself when the alphabet has none.</summary>
    public static string Map(char c, MathFont font)
    {
        if (Holes.TryGetValue((font, c), out var hole)) return hole.ToString();
        if (char.IsAsciiLetterUpper(c) && LatinBase(font) is int up and > 0) return char.ConvertFromUtf32(up + (c - 'A'));
        if (char.IsAsciiLetterLower(c) && LatinBase(font) is int low and > 0) return char.ConvertFromUtf32(low + 26 + (c - 'a'));
        if (char.IsAsciiDigit(c) && DigitBase(font) is int d and > 0) return char.ConvertFromUtf32(d + (c - '0'));
        if (font is MathFont.Bold or MathFont.BoldItalic && c is >= 'α' and <= 'ω')
            return char.ConvertFromUtf32((font == MathFont.Bold ? 0x1D6C2 : 0x1D736) + (c - 'α'));
        return c.ToString();
    }

    /// <summary>Maps every character of <paramref name="text"/>.</summary>
    public static string Map(string text, MathFont font)
    {
        if (font is MathFont.Default or MathFont.Upright) return text;
        var sb = new StringBuilder();
        foreach (var c in text) sb.Append(Map(c, font));
        return sb.ToString();
    }
}
