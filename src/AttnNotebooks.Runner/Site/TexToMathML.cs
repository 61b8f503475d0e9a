namespace AttnNotebooks.Runner.Site;

/// <summary>
/// Converts the TeX that notebooks write between <c>$…$</c> and <c>$$…$$</c> into MathML Core, which Chromium, Firefox and
/// Safari draw natively, so math renders with no script and no network. It covers what attention notebooks write: scripts,
/// fractions and roots, Greek, operators and relations, named functions with limits, fonts (<c>\mathbf</c>, <c>\mathbb</c>,
/// <c>\mathcal</c>, <c>\mathrm</c>), text, accents, <c>\left…\right</c> and sized delimiters, spacing, and the aligned, cases
/// and matrix environments. A command it does not know becomes an <c>&lt;merror&gt;</c> showing the command; it never throws.
/// </summary>
public static class TexToMathML
{
    /// <summary>The MathML of <paramref name="tex"/> without the enclosing &lt;math&gt; element: one element (often an &lt;mrow&gt;).</summary>
    public static string Convert(string tex)
    {
        try
        {
            return new TexParser(tex).ParseAll();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // the parser is written not to throw; this is the last guard so a page is always written
            return "<merror><mtext>" + Html.Escape(tex) + "</mtext></merror>";
        }
    }

    /// <summary>A complete &lt;math&gt; element for <paramref name="tex"/>, block or inline, with the TeX kept as an annotation.</summary>
    public static string ToMathElement(string tex, bool display)
    {
        var source = tex.Trim();
        return $"<math display=\"{(display ? "block" : "inline")}\"><semantics>{Convert(source)}<annotation encoding=\"application/x-tex\">{Html.Escape(source)}</annotation></semantics></math>";
    }
}
