using Microsoft.Data.Analysis;

namespace AttnKit.Catalog;

/// <summary>Catalog rows and coverage as DataFrames, for notebooks (the kit's formatters show them as tables).</summary>
public static class PaperTable
{
    /// <summary>
    /// One row per paper: id, title, year, class, group, status, and where the kit covers it (notebook sections, then
    /// library types), or, for class other, why it is out of scope.
    /// </summary>
    public static DataFrame Of(IEnumerable<Paper> papers)
    {
        ArgumentNullException.ThrowIfNull(papers);
        var list = papers.ToList();
        return new DataFrame(
            new StringDataFrameColumn("id", list.Select(p => p.Id)),
            new StringDataFrameColumn("title", list.Select(p => p.Title)),
            new PrimitiveDataFrameColumn<int>("year", list.Select(p => p.Year)),
            new StringDataFrameColumn("class", list.Select(p => p.ClassName)),
            new StringDataFrameColumn("group", list.Select(p => p.Group ?? "")),
            new StringDataFrameColumn("status", list.Select(p => p.StatusName)),
            new StringDataFrameColumn("where", list.Select(Where)));
    }

    /// <summary>
    /// One row per group: its name, then its family and cache papers (how many; covered, library only, not yet) and its
    /// phenomenon and system papers (how many; with a notebook section).
    /// </summary>
    public static DataFrame Of(CatalogCoverage coverage)
    {
        ArgumentNullException.ThrowIfNull(coverage);
        var g = coverage.Groups;
        return new DataFrame(
            new StringDataFrameColumn("group", g.Select(x => x.Group)),
            new StringDataFrameColumn("name", g.Select(x => x.Name)),
            new PrimitiveDataFrameColumn<int>("family+cache", g.Select(x => x.FamilyAndCache.Rows)),
            new PrimitiveDataFrameColumn<int>("covered", g.Select(x => x.FamilyAndCache.Covered)),
            new PrimitiveDataFrameColumn<int>("library only", g.Select(x => x.FamilyAndCache.LibraryOnly)),
            new PrimitiveDataFrameColumn<int>("not yet", g.Select(x => x.FamilyAndCache.NotYet)),
            new PrimitiveDataFrameColumn<int>("phenomenon+system", g.Select(x => x.PhenomenonAndSystem.Rows)),
            new PrimitiveDataFrameColumn<int>("with a section", g.Select(x => x.PhenomenonAndSystem.WithNotebook)));
    }

    private static string Where(Paper p) =>
        p.Class == PaperClass.Other ? "out of scope: " + p.Reason
        : string.Join("; ", p.Notebook.Select(s => s.ToString()).Concat(p.LibraryTypes));
}
