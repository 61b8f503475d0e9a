using System.Globalization;
using System.Text.RegularExpressions;

namespace AttnKit.Catalog;

/// <summary>
/// One CSV record of the catalog to a <see cref="Paper"/>, field by field, with an <see cref="ArgumentException"/> that
/// names the file, the line, the row's id and the field for anything malformed.
/// </summary>
internal static partial class PaperRow
{
    /// <summary>The catalog's columns, in order.</summary>
    public static readonly IReadOnlyList<string> Columns = ["id", "title", "year", "arxiv", "seeds", "class", "group", "summary", "library_types", "notebook", "reason"];

    [GeneratedRegex(@"^[a-z0-9]+(-[a-z0-9]+)*$")] private static partial Regex IdPattern();
    [GeneratedRegex(@"^(\d{4}\.\d{4,5}|[a-z][a-z-]*(\.[A-Z]{2})?/\d{7})$")] private static partial Regex ArxivPattern();
    [GeneratedRegex(@"^(\d{3}):([1-9]\d*)$")] private static partial Regex SeedPattern();
    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(`\d+)?$")] private static partial Regex TypePattern();
    [GeneratedRegex(@"^([A-Za-z0-9_.-]+/)*[A-Za-z0-9_.-]+\.ipynb#[^\s#]+$")] private static partial Regex SectionPattern();

    /// <summary>Checks the header record: exactly <see cref="Columns"/>.</summary>
    public static void CheckHeader(CsvRecord header, string source)
    {
        if (!header.Fields.SequenceEqual(Columns))
            throw new ArgumentException($"{source}, line {header.Line}: expected the header '{string.Join(',', Columns)}', got '{string.Join(',', header.Fields)}'");
    }

    /// <summary>The paper of one record.</summary>
    public static Paper Parse(CsvRecord record, string source)
    {
        var f = record.Fields;
        if (f.Count != Columns.Count)
            throw new ArgumentException($"{source}, line {record.Line}: expected {Columns.Count} fields ({string.Join(',', Columns)}), got {f.Count}; quote a field that holds a comma");
        string id = f[0];
        string where = $"{source}, line {record.Line}" + (id.Length > 0 ? $" (id '{id}')" : "");
        ArgumentException Bad(string column, string expected, string got) => new($"{where}: {column}: expected {expected}, got '{got}'");

        if (!IdPattern().IsMatch(id)) throw Bad("id", "a slug of lower-case letters, digits and single hyphens", id);
        string title = f[1];
        if (title.Trim().Length == 0) throw Bad("title", "the paper's title", title);

        int? year = null;
        if (f[2].Length > 0)
        {
            if (f[2].Length != 4 || !int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var y) || y < 1900 || y > 2100)
                throw Bad("year", "empty or a year such as 2017", f[2]);
            year = y;
        }
        string? arxiv = f[3].Length == 0 ? null : ArxivPattern().IsMatch(f[3]) ? f[3] : throw Bad("arxiv", "empty or an arXiv id such as 1706.03762", f[3]);

        var seeds = new List<SeedLocation>();
        foreach (var s in f[4].Split(';'))
        {
            var m = SeedPattern().Match(s.Trim());
            if (!m.Success || !int.TryParse(m.Groups[2].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var seedLine))
                throw Bad("seeds", "one or more seed places FILE:LINE such as 003:83, separated by ';'", f[4]);
            var location = new SeedLocation(m.Groups[1].Value, seedLine);
            if (seeds.Contains(location)) throw Bad("seeds", $"each place once ({location} is repeated)", f[4]);
            seeds.Add(location);
        }

        var cls = PaperClasses.Parse(f[5]) ?? throw Bad("class", "family, cache, phenomenon, system or other", f[5]);
        string? group = f[6].Length == 0 ? null : f[6];
        if (cls == PaperClass.Other && group is not null) throw Bad("group", "no group for class other", f[6]);
        if (cls != PaperClass.Other && (group is null || !PaperGroups.IsKnown(group)))
            throw Bad("group", $"a group F1–F18, K1–K8 or P1–P2 for class {f[5]}", f[6]);
        string summary = f[7];
        if (summary.Trim().Length == 0) throw Bad("summary", "one sentence on what the paper computes or shows", summary);

        var types = List(f[8]);
        foreach (var t in types)
            if (!TypePattern().IsMatch(t)) throw Bad("library_types", "full type names such as AttnKit.Attention.MultiHeadAttention, separated by ';'", t);
        if (types.Distinct(StringComparer.Ordinal).Count() != types.Count) throw Bad("library_types", "each type once", f[8]);

        var sections = new List<NotebookSection>();
        foreach (var s in List(f[9]))
        {
            if (!SectionPattern().IsMatch(s)) throw Bad("notebook", "notebook sections such as 00-start-here.ipynb#a-first-attention, separated by ';'", s);
            int hash = s.IndexOf('#');
            sections.Add(new NotebookSection(s[..hash], s[(hash + 1)..]));
        }
        if (sections.Distinct().Count() != sections.Count) throw Bad("notebook", "each section once", f[9]);

        string? reason = f[10].Trim().Length == 0 ? null : f[10];
        if (cls == PaperClass.Other)
        {
            if (reason is null) throw Bad("reason", "a one-line reason why a paper of class other is out of scope", f[10]);
            if (types.Count > 0 || sections.Count > 0) throw Bad(types.Count > 0 ? "library_types" : "notebook", "nothing for a paper of class other (out of scope)", types.Count > 0 ? f[8] : f[9]);
        }
        return new Paper(id, title, year, arxiv, seeds, cls, group, summary, types, sections, reason, record.Line);
    }

    private static List<string> List(string field) =>
        field.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
}
