using System.Text;

namespace AttnKit.Catalog;

/// <summary>
/// Counts over a set of papers: how many rows, how many name a library type, how many a notebook section; and, by
/// status, how many are covered (a notebook section), library only (a type, no section) or not yet (neither).
/// </summary>
public sealed record CoverageCount(int Rows, int WithLibraryType, int WithNotebook, int Covered, int LibraryOnly, int NotYet)
{
    /// <summary>The counts of <paramref name="papers"/>.</summary>
    public static CoverageCount Of(IEnumerable<Paper> papers)
    {
        ArgumentNullException.ThrowIfNull(papers);
        var list = papers.ToList();
        return new CoverageCount(
            list.Count,
            list.Count(p => p.LibraryTypes.Count > 0),
            list.Count(p => p.Notebook.Count > 0),
            list.Count(p => p.Status == CoverageStatus.Covered),
            list.Count(p => p.Status == CoverageStatus.LibraryOnly),
            list.Count(p => p.Status == CoverageStatus.NotYet));
    }

    /// <summary>"3 rows: 1 with a library type, 0 with a notebook section".</summary>
    public override string ToString() => $"{Rows} rows: {WithLibraryType} with a library type, {WithNotebook} with a notebook section";
}

/// <summary>One group's coverage: its family and cache rows, and, separately, its phenomenon and system rows.</summary>
public sealed record GroupCoverage(string Group, string Name, CoverageCount FamilyAndCache, CoverageCount PhenomenonAndSystem);

/// <summary>What the kit covers, per group (in <see cref="PaperGroups.Codes"/> order) and in total; computed from the rows.</summary>
/// <param name="Papers">Every paper counted.</param>
/// <param name="Classes">Papers per class, in the enum's order.</param>
/// <param name="Groups">Per group that has at least one paper.</param>
/// <param name="FamilyAndCache">All family and cache rows.</param>
/// <param name="PhenomenonAndSystem">All phenomenon and system rows.</param>
/// <param name="OutOfScope">Rows of class other.</param>
public sealed record CatalogCoverage(
    int Papers, IReadOnlyList<KeyValuePair<PaperClass, int>> Classes, IReadOnlyList<GroupCoverage> Groups,
    CoverageCount FamilyAndCache, CoverageCount PhenomenonAndSystem, int OutOfScope)
{
    /// <summary>The coverage of <paramref name="papers"/>.</summary>
    public static CatalogCoverage Of(IEnumerable<Paper> papers)
    {
        ArgumentNullException.ThrowIfNull(papers);
        var list = papers.ToList();
        var classes = Enum.GetValues<PaperClass>().Select(c => KeyValuePair.Create(c, list.Count(p => p.Class == c))).ToList();
        var groups = list.Where(p => p.Group is not null)
            .GroupBy(p => p.Group!)
            .OrderBy(g => PaperGroups.Order(g.Key)).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new GroupCoverage(g.Key, PaperGroups.IsKnown(g.Key) ? PaperGroups.Name(g.Key) : g.Key,
                CoverageCount.Of(g.Where(p => p.IsFamilyOrCache)), CoverageCount.Of(g.Where(p => p.IsPhenomenonOrSystem))))
            .ToList();
        return new CatalogCoverage(list.Count, classes, groups,
            CoverageCount.Of(list.Where(p => p.IsFamilyOrCache)), CoverageCount.Of(list.Where(p => p.IsPhenomenonOrSystem)),
            list.Count(p => p.Class == PaperClass.Other));
    }

    /// <summary>A plain-text table: one line per group, family+cache then phenomenon+system (rows / with a type / with a section), and the totals.</summary>
    public string ToText()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"{"group",-6} {"family+cache: rows",18} {"type",5} {"notebook",8}   {"phenomenon+system: rows",23} {"type",5} {"notebook",8}");
        void Line(string label, CoverageCount fc, CoverageCount ps) =>
            sb.AppendLine($"{label,-6} {fc.Rows,18} {fc.WithLibraryType,5} {fc.WithNotebook,8}   {ps.Rows,23} {ps.WithLibraryType,5} {ps.WithNotebook,8}");
        foreach (var g in Groups) Line(g.Group, g.FamilyAndCache, g.PhenomenonAndSystem);
        Line("total", FamilyAndCache, PhenomenonAndSystem);
        sb.Append($"{Papers} papers: ").Append(string.Join(", ", Classes.Select(c => $"{c.Value} {PaperClasses.Name(c.Key)}"))).Append($"; {OutOfScope} out of scope");
        return sb.ToString();
    }
}
