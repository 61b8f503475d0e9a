using System.Text;

namespace AttnNotebooks.Runner.Site;

internal sealed partial class TexParser
{
    /// <summary>Rows of cells of atoms, split at <c>&amp;</c> and <c>\\</c>, up to the end of the enclosing group or environment.</summary>
    private List<List<List<TexNode>>> ParseTableBody()
    {
        var rows = new List<List<List<TexNode>>>();
        var row = new List<List<TexNode>>();
        while (true)
        {
            row.Add(ParseRow(stopOnTable: true));
            SkipSpaces();
            if (Peek(0) == '&') { _pos++; continue; }
            if (LookingAt("\\\\"))
            {
                _pos += 2;
                SkipSpaces();
                if (Peek(0) == '[') { int close = _s.IndexOf(']', _pos); _pos = close < 0 ? _s.Length : close + 1; } // \\[4pt]
                rows.Add(row);
                row = [];
                continue;
            }
            break;
        }
        rows.Add(row);
        if (rows.Count > 1 && rows[^1] is [{ Count: 0 }]) rows.RemoveAt(rows.Count - 1); // a final \\ opens no row
        return rows;
    }

    /// <summary><c>\begin{name}…\end{name}</c>: aligned and gathered equations, cases, matrices and arrays.</summary>
    private TexNode Environment()
    {
        var name = ReadRawGroup().Trim();
        string? columns = null;
        if (name is "array" or "alignat" or "alignedat" or "subarray")
        {
            var spec = ReadRawGroup();
            columns = name == "array" || name == "subarray" ? new string(spec.Where(ch => ch is 'l' or 'c' or 'r').ToArray()) : null;
        }
        _envDepth++;
        var rows = ParseTableBody();
        _envDepth--;
        if (LookingAtCommand("end"))
        {
            ReadCommandName();
            ReadRawGroup();
        }
        var bare = name.TrimEnd('*');
        (string Open, string Close, string Align, bool Display)? shape = bare switch
        {
            "aligned" or "align" or "split" or "alignat" or "alignedat" or "eqnarray" or "flalign" => ("", "", "aligned", true),
            "gathered" or "gather" or "multline" or "equation" => ("", "", "gathered", true),
            "matrix" or "smallmatrix" or "subarray" => ("", "", "c", false),
            "pmatrix" => ("(", ")", "c", false),
            "bmatrix" => ("[", "]", "c", false),
            "Bmatrix" => ("{", "}", "c", false),
            "vmatrix" => ("|", "|", "c", false),
            "Vmatrix" => ("‖", "‖", "c", false),
            "cases" => ("{", "", "l", false),
            "dcases" => ("{", "", "l", true),
            "rcases" => ("", "}", "l", false),
            "array" => ("", "", columns is { Length: > 0 } ? columns : "c", false),
            _ => null,
        };
        if (shape is not { } s)
            return new TexNode(Error("\\begin{" + name + "}").Xml + Table(rows, "c", false), TexKind.Ord);
        if (bare == "equation" && rows.Count == 1 && rows[0].Count == 1) return new TexNode(Row(rows[0][0]), TexKind.Ord);
        var table = Table(rows, s.Align, s.Display);
        if (s.Open.Length == 0 && s.Close.Length == 0) return new TexNode(table, TexKind.Ord);
        return new TexNode($"<mrow>{Fence(s.Open, "prefix")}{table}{Fence(s.Close, "postfix")}</mrow>", TexKind.Open);
    }

    /// <summary>
    /// An &lt;mtable&gt;. <paramref name="align"/>: "aligned" (columns alternately right and left, as TeX's aligned),
    /// "gathered" (centred), or one letter per column (l, c, r; the last repeats).
    /// MathML Core aligns cells with CSS text-align; columnalign is written too, for other renderers.
    /// </summary>
    private static string Table(List<List<List<TexNode>>> rows, string align, bool displayStyle)
    {
        var sb = new StringBuilder(displayStyle ? "<mtable displaystyle=\"true\">" : "<mtable>");
        foreach (var row in rows)
        {
            sb.Append("<mtr>");
            for (int j = 0; j < row.Count; j++)
            {
                var (column, style) = align switch
                {
                    "aligned" => j % 2 == 0 ? ("right", "text-align:right;padding-right:0") : ("left", "text-align:left;padding-left:0"),
                    "gathered" => ("center", ""),
                    _ => (align[Math.Min(j, align.Length - 1)] switch { 'l' => "left", 'r' => "right", _ => "center" }, ""),
                };
                if (style.Length == 0 && column != "center") style = "text-align:" + column;
                sb.Append(column == "center" ? "<mtd>" : $"<mtd columnalign=\"{column}\" style=\"{style}\">");
                sb.Append(row[j].Count == 0 ? "" : Row(row[j]));
                sb.Append("</mtd>");
            }
            sb.Append("</mtr>");
        }
        return sb.Append("</mtable>").ToString();
    }
}
