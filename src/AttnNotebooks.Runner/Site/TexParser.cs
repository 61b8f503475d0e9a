using System.Text;

namespace AttnNotebooks.Runner.Site;

/// <summary>One parsed TeX atom: its MathML, its class, and the base to use when scripts go under and over (limits).</summary>
internal sealed record TexNode(string Xml, TexKind Kind, string? LimitsBase = null);

/// <summary>
/// A recursive-descent TeX parser that writes MathML as it goes. Rows of atoms (<see cref="ParseRow"/>) end at a closing
/// brace, <c>\right</c>, <c>\end</c> or a table separator only when one is open; anything else unexpected becomes an
/// &lt;merror&gt; and parsing goes on. Every step consumes input, so it always ends.
/// </summary>
internal sealed partial class TexParser(string tex)
{
    private const int MaxDepth = 100;
    private readonly string _s = tex;
    private int _pos;
    private MathFont _font = MathFont.Default;
    private int _braceDepth, _leftDepth, _envDepth, _depth;

    /// <summary>The whole input: one row, or a table when it has <c>\\</c> or <c>&amp;</c> at the top level.</summary>
    public string ParseAll()
    {
        var rows = ParseTableBody();
        while (_pos < _s.Length) // only when a separator stopped the body early; cannot happen at the top, kept as a guard
            rows[^1][^1].Add(Error(_s[_pos++].ToString()));
        if (rows.Count == 1 && rows[0].Count == 1) return Row(rows[0][0]);
        return Table(rows, rows.Any(r => r.Count > 1) ? "aligned" : "gathered", displayStyle: true);
    }

    /// <summary>Atoms up to the end of the current group, cell or fence.</summary>
    private List<TexNode> ParseRow(bool stopOnTable)
    {
        var nodes = new List<TexNode>();
        if (++_depth > MaxDepth)
        {
            // nesting this deep is not math a person wrote; show the rest as an error instead of recursing further
            nodes.Add(Error(_s[_pos..]));
            _pos = _s.Length;
            _depth--;
            return nodes;
        }
        while (true)
        {
            SkipSpaces();
            if (_pos >= _s.Length) break;
            char c = _s[_pos];
            if (c == '}' && _braceDepth > 0) break;
            if (stopOnTable && (c == '&' || LookingAt("\\\\"))) break;
            if (c == '\\')
            {
                var name = PeekCommand();
                if ((name == "right" && _leftDepth > 0) || (name == "end" && _envDepth > 0)) break;
                if (name is "displaystyle" or "textstyle" or "scriptstyle" or "color")
                {
                    nodes.Add(StyleRest(name, stopOnTable));
                    break;
                }
            }
            int before = _pos;
            var atom = ParseAtom();
            if (atom is not null) nodes.Add(ParseScripts(atom));
            if (_pos == before) nodes.Add(Error(_s[_pos++].ToString())); // never stand still
        }
        _depth--;
        return nodes;
    }

    /// <summary><c>\displaystyle</c>, <c>\color{c}</c> ...: applies to the rest of the current group.</summary>
    private TexNode StyleRest(string name, bool stopOnTable)
    {
        ReadCommandName();
        string attribute = name switch
        {
            "displaystyle" => "displaystyle=\"true\"",
            "textstyle" => "displaystyle=\"false\"",
            "scriptstyle" => "displaystyle=\"false\" scriptlevel=\"1\"",
            _ => $"mathcolor=\"{Color(ReadRawGroup())}\"",
        };
        var rest = ParseRow(stopOnTable);
        return new TexNode($"<mstyle {attribute}>{Children(rest)}</mstyle>", TexKind.Ord);
    }

    /// <summary>One atom, without its scripts; null for commands that draw nothing (<c>\label</c>, <c>\nonumber</c>).</summary>
    private TexNode? ParseAtom()
    {
        char c = _s[_pos];
        switch (c)
        {
            case '{':
                return new TexNode(Group(), TexKind.Ord);
            case '}':
                _pos++;
                return Error("}");
            case '^' or '_' or '\'':
                return new TexNode("<mrow></mrow>", TexKind.Ord); // a script with no base; ParseScripts takes it
            case '&':
                _pos++;
                return Error("&");
            case '~':
                _pos++;
                return Space("0.3333em");
            case '\\':
                return ParseCommand();
        }
        if (char.IsAsciiDigit(c) || (c == '.' && char.IsAsciiDigit(Peek(1)))) return Number(singleDigit: false);
        if (char.IsAsciiLetter(c)) return Letters(single: false);
        return Character();
    }

    /// <summary>A braced group, from its opening brace: the MathML of its row.</summary>
    private string Group()
    {
        _pos++; // {
        _braceDepth++;
        var nodes = ParseRow(stopOnTable: false);
        _braceDepth--;
        if (Peek(0) == '}') _pos++;
        return Row(nodes);
    }

    /// <summary>Superscripts, subscripts, primes and <c>\limits</c> after <paramref name="atom"/>.</summary>
    private TexNode ParseScripts(TexNode atom)
    {
        string? sub = null, sup = null;
        int primes = 0;
        bool? limits = null;
        while (true)
        {
            SkipSpaces();
            char c = Peek(0);
            if (c == '\'' && sup is null) { primes++; _pos++; }
            else if (c == '^' && sup is null) { _pos++; sup = ParseArgument().Xml; }
            else if (c == '_' && sub is null) { _pos++; sub = ParseArgument().Xml; }
            else if (LookingAtCommand("limits")) { ReadCommandName(); limits = true; }
            else if (LookingAtCommand("nolimits")) { ReadCommandName(); limits = false; }
            else break;
        }
        if (primes > 0)
        {
            var mark = primes switch { 1 => "′", 2 => "″", 3 => "‴", _ => new string('′', primes) };
            // a prime alone follows its base at full size: the glyph is already raised, and a script-sized one is tiny
            // and too high without a math font
            if (sub is null && sup is null) return new TexNode($"<mrow>{atom.Xml}<mo lspace=\"0em\" rspace=\"0em\">{mark}</mo></mrow>", atom.Kind);
            sup = sup is null ? $"<mo>{mark}</mo>" : $"<mrow><mo>{mark}</mo>{sup}</mrow>";
        }
        if (sub is null && sup is null) return atom;
        bool useLimits = limits ?? atom.LimitsBase is not null;
        if (useLimits && atom.Kind is not (TexKind.LargeOp or TexKind.Function) && atom.LimitsBase is null) useLimits = false;
        var b = useLimits ? atom.LimitsBase ?? atom.Xml : atom.Xml;
        string xml = (useLimits, sub, sup) switch
        {
            (true, not null, not null) => $"<munderover>{b}{sub}{sup}</munderover>",
            (true, not null, null) => $"<munder>{b}{sub}</munder>",
            (true, null, _) => $"<mover>{b}{sup}</mover>",
            (false, not null, not null) => $"<msubsup>{b}{sub}{sup}</msubsup>",
            (false, not null, null) => $"<msub>{b}{sub}</msub>",
            (false, null, _) => $"<msup>{b}{sup}</msup>",
        };
        return new TexNode(xml, atom.Kind);
    }

    /// <summary>The argument of a script or a command: a group, one command (with its own arguments), or one character.</summary>
    private TexNode ParseArgument()
    {
        SkipSpaces();
        if (_pos >= _s.Length) return Error("missing argument");
        char c = _s[_pos];
        if (c == '{') return new TexNode(Group(), TexKind.Ord);
        if (c == '\\') return ParseCommand() ?? new TexNode("<mrow></mrow>", TexKind.Ord);
        if (char.IsAsciiDigit(c)) return Number(singleDigit: true);
        if (char.IsAsciiLetter(c)) return Letters(single: true);
        if (c == '}') return Error("missing argument");
        return Character();
    }

    private TexNode Number(bool singleDigit)
    {
        int start = _pos;
        if (singleDigit) _pos++;
        else
        {
            while (char.IsAsciiDigit(Peek(0))) _pos++;
            if (Peek(0) == '.' && char.IsAsciiDigit(Peek(1)))
            {
                _pos++;
                while (char.IsAsciiDigit(Peek(0))) _pos++;
            }
        }
        return new TexNode($"<mn>{MathAlphabets.Map(_s[start.._pos], _font)}</mn>", TexKind.Ord);
    }

    /// <summary>A letter; in upright text (<c>\mathrm{softmax}</c>) a run of letters, as one identifier.</summary>
    private TexNode Letters(bool single)
    {
        if (_font == MathFont.Upright)
        {
            int start = _pos++;
            if (!single) while (char.IsAsciiLetter(Peek(0))) _pos++;
            return Identifier(_s[start.._pos], upright: true);
        }
        return new TexNode($"<mi>{MathAlphabets.Map(_s[_pos++], _font)}</mi>", TexKind.Ord);
    }

    /// <summary>Any other character: an operator, a fence, punctuation, or a non-ASCII letter.</summary>
    private TexNode Character()
    {
        char c = _s[_pos];
        if (char.IsHighSurrogate(c) && char.IsLowSurrogate(Peek(1)))
        {
            _pos += 2;
            return new TexNode($"<mi>{c}{_s[_pos - 1]}</mi>", TexKind.Ord);
        }
        _pos++;
        return c switch
        {
            '+' => Op("+", TexKind.Bin),
            '-' => Op("−", TexKind.Bin),
            '*' => Op("∗", TexKind.Bin),
            '=' or '<' or '>' or ':' => Op(c.ToString(), TexKind.Rel),
            ',' or ';' => Op(c.ToString(), TexKind.Punct),
            '!' or '?' => Op(c.ToString(), TexKind.Close),
            '(' or '[' => new TexNode($"<mo stretchy=\"false\">{c}</mo>", TexKind.Open),
            ')' or ']' => new TexNode($"<mo stretchy=\"false\">{c}</mo>", TexKind.Close),
            '|' => new TexNode("<mo stretchy=\"false\">|</mo>", TexKind.Ord),
            '/' => new TexNode("<mo lspace=\"0em\" rspace=\"0em\">/</mo>", TexKind.Ord),
            _ when char.IsLetter(c) => Identifier(c.ToString(), upright: false),
            _ => Op(c.ToString(), TexKind.Ord),
        };
    }

    private static TexNode Op(string c, TexKind kind) => new($"<mo>{Html.Escape(c)}</mo>", kind);

    private static TexNode Identifier(string name, bool upright) =>
        new(name.Length == 1 && upright ? $"<mi mathvariant=\"normal\">{Html.Escape(name)}</mi>" : $"<mi>{Html.Escape(name)}</mi>", TexKind.Ord);

    private static TexNode Space(string width) => new($"<mspace width=\"{width}\"></mspace>", TexKind.Space);

    private static TexNode Error(string text) => new($"<merror><mtext>{Html.Escape(text)}</mtext></merror>", TexKind.Ord);

    /// <summary>The MathML of a row: its one element, or an &lt;mrow&gt; around several.</summary>
    private static string Row(List<TexNode> nodes)
    {
        if (nodes.Count == 1) return nodes[0].Xml;
        return "<mrow>" + Children(nodes) + "</mrow>";
    }

    /// <summary>The row's elements in order, with a thin space after a named function that an ordinary atom follows (TeX's op–ord space).</summary>
    private static string Children(List<TexNode> nodes)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < nodes.Count; i++)
        {
            sb.Append(nodes[i].Xml);
            if (nodes[i].Kind == TexKind.Function && i + 1 < nodes.Count && nodes[i + 1].Kind is TexKind.Ord or TexKind.Function or TexKind.LargeOp)
                sb.Append("<mspace width=\"0.1667em\"></mspace>");
        }
        return sb.ToString();
    }
}
