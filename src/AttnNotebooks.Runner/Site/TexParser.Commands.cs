using System.Text;

namespace AttnNotebooks.Runner.Site;

internal sealed partial class TexParser
{
    private static readonly Dictionary<string, MathFont> Fonts = new()
    {
        ["mathrm"] = MathFont.Upright, ["mathup"] = MathFont.Upright, ["mathnormal"] = MathFont.Default, ["mathit"] = MathFont.Italic,
        ["mathbf"] = MathFont.Bold, ["boldsymbol"] = MathFont.BoldItalic, ["bm"] = MathFont.BoldItalic, ["mathcal"] = MathFont.Script,
        ["mathscr"] = MathFont.Script, ["mathfrak"] = MathFont.Fraktur, ["mathbb"] = MathFont.DoubleStruck,
        ["mathsf"] = MathFont.SansSerif, ["mathtt"] = MathFont.Monospace,
    };

    private static readonly Dictionary<string, string> TextStyles = new()
    {
        ["text"] = "", ["textrm"] = "", ["textnormal"] = "", ["mbox"] = "", ["hbox"] = "", ["textup"] = "",
        ["textbf"] = "font-weight:bold", ["textit"] = "font-style:italic", ["emph"] = "font-style:italic",
        ["texttt"] = "font-family:monospace", ["textsf"] = "font-family:sans-serif",
    };

    /// <summary>A command from its backslash; null for commands that draw nothing.</summary>
    private TexNode? ParseCommand()
    {
        int start = _pos;
        var name = ReadCommandName();
        if (name.Length == 0) return Error("\\");
        if (name == "\\") return null; // a line break outside a table: TeX ignores it in inline math
        if (TexSymbols.Greek.TryGetValue(name, out var greek)) return GreekLetter(greek);
        if (TexSymbols.Spaces.TryGetValue(name, out var width)) return Space(width);
        if (TexSymbols.Delimiters.TryGetValue("\\" + name, out var delim)) return new TexNode($"<mo stretchy=\"false\">{delim.Char}</mo>", delim.Kind);
        if (TexSymbols.Symbols.TryGetValue(name, out var sym))
            return sym.Kind == TexKind.Ord ? new TexNode($"<mi>{Html.Escape(sym.Char)}</mi>", TexKind.Ord) : Op(sym.Char, sym.Kind);
        if (TexSymbols.LargeOps.TryGetValue(name, out var large))
        {
            var xml = large.Limits ? $"<mo movablelimits=\"true\">{large.Char}</mo>" : $"<mo>{large.Char}</mo>";
            return new TexNode(xml, TexKind.LargeOp, large.Limits ? xml : null);
        }
        if (name == "arg" && (NextIsCommand("max") || NextIsCommand("min")))
        {
            SkipSpaces();
            return Function("arg\u2009" + ReadCommandName(), limits: true);
        }
        if (TexSymbols.Functions.TryGetValue(name, out var limits)) return Function(name, limits);
        if (Fonts.TryGetValue(name, out var font)) return WithFont(font);
        if (TextStyles.TryGetValue(name, out var style))
        {
            var text = TextArgument();
            return new TexNode(style.Length == 0 ? $"<mtext>{Html.Escape(text)}</mtext>" : $"<mtext style=\"{style}\">{Html.Escape(text)}</mtext>", TexKind.Ord);
        }
        if (TexSymbols.Accents.TryGetValue(name, out var accent)) return Accent(accent.Mark, accent.Stretchy, accent.Under, brace: name.EndsWith("brace", StringComparison.Ordinal));
        if (TexSymbols.BigSizes.TryGetValue(name, out var size)) return Big(name, size);
        switch (name)
        {
            case "frac" or "dfrac" or "tfrac" or "cfrac":
            {
                var fraction = $"<mfrac>{ParseArgument().Xml}{ParseArgument().Xml}</mfrac>";
                return new TexNode(name switch
                {
                    "dfrac" or "cfrac" => $"<mstyle displaystyle=\"true\">{fraction}</mstyle>",
                    "tfrac" => $"<mstyle displaystyle=\"false\">{fraction}</mstyle>",
                    _ => fraction,
                }, TexKind.Ord);
            }
            case "binom" or "dbinom" or "tbinom":
                return new TexNode($"<mrow><mo>(</mo><mfrac linethickness=\"0\">{ParseArgument().Xml}{ParseArgument().Xml}</mfrac><mo>)</mo></mrow>", TexKind.Ord);
            case "sqrt":
                return Root();
            case "operatorname":
            {
                bool star = Peek(0) == '*';
                if (star) _pos++;
                return Function(TextArgument(), limits: star);
            }
            case "left":
                return Fenced();
            case "right":
                Delimiter();
                return Error("\\right");
            case "middle":
                return new TexNode($"<mo stretchy=\"true\">{Delimiter()?.Char}</mo>", TexKind.Rel);
            case "begin":
                return Environment();
            case "end":
                return Error("\\end{" + ReadRawGroup() + "}");
            case "overset" or "stackrel" or "underset":
            {
                var over = ParseArgument().Xml;
                var b = ParseArgument().Xml;
                return name == "underset" ? new TexNode($"<munder>{b}{over}</munder>", TexKind.Rel) : new TexNode($"<mover>{b}{over}</mover>", TexKind.Rel);
            }
            case "not":
                return Negated();
            case "boxed":
                return new TexNode($"<mrow style=\"border:1px solid currentColor;padding:0.15em 0.3em\">{ParseArgument().Xml}</mrow>", TexKind.Ord);
            case "phantom":
                return new TexNode($"<mphantom>{ParseArgument().Xml}</mphantom>", TexKind.Ord);
            case "textcolor":
            {
                var color = Color(ReadRawGroup());
                return new TexNode($"<mstyle mathcolor=\"{color}\">{ParseArgument().Xml}</mstyle>", TexKind.Ord);
            }
            case "label" or "tag":
                ReadRawGroup();
                return null;
            case "nonumber" or "notag" or "hline" or "limits" or "nolimits" or "displaystyle" or "textstyle" or "scriptstyle":
                return null;
            case "color":
                ReadRawGroup();
                return null;
        }
        return Error(_s[start.._pos]);
    }

    private bool NextIsCommand(string name)
    {
        int save = _pos;
        SkipSpaces();
        bool yes = LookingAtCommand(name);
        _pos = save;
        return yes;
    }

    private TexNode GreekLetter(string letter)
    {
        bool upper = char.IsUpper(letter[0]);
        if (_font is MathFont.Bold or MathFont.BoldItalic && !upper) return new TexNode($"<mi>{MathAlphabets.Map(letter[0], _font)}</mi>", TexKind.Ord);
        if (upper || _font == MathFont.Upright) return new TexNode($"<mi mathvariant=\"normal\">{letter}</mi>", TexKind.Ord);
        return new TexNode($"<mi>{letter}</mi>", TexKind.Ord);
    }

    /// <summary>A named function (log, max, softmax ...): upright, with limits under and over when it takes them.</summary>
    private static TexNode Function(string name, bool limits)
    {
        var text = Html.Escape(name);
        var xml = name.Length == 1 ? $"<mi mathvariant=\"normal\">{text}</mi>" : $"<mi>{text}</mi>";
        return new TexNode(xml, TexKind.Function, limits ? $"<mo movablelimits=\"true\" lspace=\"0em\" rspace=\"0em\">{text}</mo>" : null);
    }

    private TexNode WithFont(MathFont font)
    {
        var saved = _font;
        _font = font;
        try { return ParseArgument() with { LimitsBase = null }; }
        finally { _font = saved; }
    }

    /// <summary>The text of <c>\text{…}</c> or <c>\operatorname{…}</c>: escapes and spacing commands resolved, outer spaces kept.</summary>
    private string TextArgument()
    {
        var raw = ReadRawGroup();
        var sb = new StringBuilder();
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c is '{' or '}') continue;
            if (c == '~') { sb.Append('\u00A0'); continue; }
            if (c != '\\' || i + 1 >= raw.Length) { sb.Append(c); continue; }
            int start = ++i;
            if (char.IsAsciiLetter(raw[i])) { while (i + 1 < raw.Length && char.IsAsciiLetter(raw[i + 1])) i++; }
            var name = raw[start..(i + 1)];
            sb.Append(name switch
            {
                "," or "thinspace" => "\u2009",
                ":" or ";" or ">" or " " => " ",
                "quad" => "\u2003",
                "qquad" => "\u2003\u2003",
                "!" => "",
                "\\" => " ",
                "_" or "%" or "$" or "&" or "#" or "{" or "}" => name,
                _ when TextStyles.ContainsKey(name) => "",
                _ => "\\" + name,
            });
        }
        var text = sb.ToString();
        // MathML collapses the spaces at the ends of a text, which TeX keeps
        int lead = text.Length - text.TrimStart(' ').Length, trail = text.Length - text.TrimEnd(' ').Length;
        if (lead == text.Length) return new string('\u00A0', text.Length);
        return new string('\u00A0', lead) + text.Trim(' ') + new string('\u00A0', trail);
    }

    private TexNode Accent(string mark, bool stretchy, bool under, bool brace)
    {
        var b = ParseArgument().Xml;
        var mo = $"<mo stretchy=\"{(stretchy ? "true" : "false")}\">{Html.Escape(mark)}</mo>";
        var xml = under ? $"<munder accentunder=\"true\">{b}{mo}</munder>" : $"<mover accent=\"true\">{b}{mo}</mover>";
        return new TexNode(xml, TexKind.Ord, brace ? xml : null);
    }

    private TexNode Root()
    {
        SkipSpaces();
        if (Peek(0) != '[') return new TexNode($"<msqrt>{ParseArgument().Xml}</msqrt>", TexKind.Ord);
        int close = _s.IndexOf(']', _pos);
        if (close < 0) return Error("\\sqrt[");
        var index = new TexParser(_s[(_pos + 1)..close]) { _font = _font }.ParseAll();
        _pos = close + 1;
        return new TexNode($"<mroot>{ParseArgument().Xml}{index}</mroot>", TexKind.Ord);
    }

    /// <summary>The delimiter after <c>\left</c>, <c>\right</c>, <c>\big</c> ...: its character ("" for <c>.</c>) and class; null when unknown.</summary>
    private (string Char, TexKind Kind)? Delimiter()
    {
        SkipSpaces();
        if (_pos >= _s.Length) return null;
        string key;
        if (_s[_pos] == '\\') { int start = _pos; ReadCommandName(); key = _s[start.._pos]; }
        else key = _s[_pos++].ToString();
        return TexSymbols.Delimiters.TryGetValue(key, out var d) ? d : null;
    }

    private TexNode Fenced()
    {
        int at = _pos;
        var open = Delimiter();
        var openXml = open is { } o ? Fence(o.Char, "prefix") : Error(_s[at.._pos]).Xml;
        _leftDepth++;
        var inner = ParseRow(stopOnTable: false);
        _leftDepth--;
        string closeXml = "";
        if (LookingAtCommand("right"))
        {
            ReadCommandName();
            at = _pos;
            var close = Delimiter();
            closeXml = close is { } c ? Fence(c.Char, "postfix") : Error(_s[at.._pos]).Xml;
        }
        return new TexNode($"<mrow>{openXml}{Children(inner)}{closeXml}</mrow>", TexKind.Open);
    }

    private static string Fence(string c, string form) =>
        c.Length == 0 ? "" : $"<mo fence=\"true\" form=\"{form}\" stretchy=\"true\">{Html.Escape(c)}</mo>";

    private TexNode Big(string name, string size)
    {
        int at = _pos;
        var d = Delimiter();
        if (d is not { } delim) return Error("\\" + name + _s[at.._pos]);
        var kind = name[^1] switch { 'l' => TexKind.Open, 'r' => TexKind.Close, 'm' => TexKind.Rel, _ => delim.Kind };
        return new TexNode($"<mo minsize=\"{size}\" maxsize=\"{size}\" stretchy=\"true\" symmetric=\"true\">{Html.Escape(delim.Char)}</mo>", kind);
    }

    /// <summary><c>\not</c> before a relation: its negated form (≠, ∉ ...), else the relation with a combining slash.</summary>
    private TexNode Negated()
    {
        SkipSpaces();
        if (_pos >= _s.Length) return Error("\\not");
        var next = ParseAtom();
        if (next is null || !next.Xml.StartsWith("<mo>", StringComparison.Ordinal) || !next.Xml.EndsWith("</mo>", StringComparison.Ordinal))
            return Error("\\not");
        var inner = next.Xml[4..^5];
        var negated = inner switch { "=" => "≠", "∈" => "∉", "≡" => "≢", "⊂" => "⊄", "⊆" => "⊈", "∼" => "≁", "≈" => "≉", "&lt;" => "≮", "&gt;" => "≯", _ => inner + "\u0338" };
        return new TexNode($"<mo>{negated}</mo>", TexKind.Rel);
    }
}
