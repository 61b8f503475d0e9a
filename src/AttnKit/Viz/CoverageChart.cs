using AttnKit.Catalog;
using Plotly.NET;
using Plotly.NET.CSharp;

namespace AttnKit.Viz;

/// <summary>
/// The catalog's coverage per group as stacked bars: for each group, its papers split into covered (a notebook section),
/// library only (a library type, no section yet) and not yet. Every number comes from <see cref="CatalogCoverage"/>,
/// which counts the rows of the catalog.
/// </summary>
public static class CoverageChart
{
    private static readonly (string Name, string Color, Func<CoverageCount, int> Count)[] Parts =
    [
        ("covered", "#1a7f37", c => c.Covered),
        ("library only", "#0969da", c => c.LibraryOnly),
        ("not yet", "#c8d1da", c => c.NotYet),
    ];

    /// <summary>The family and cache papers of each group that has any: what the kit implements.</summary>
    public static GenericChart FamilyAndCache(CatalogCoverage coverage, string? title = "Family and cache papers per group") =>
        Of(coverage, g => g.FamilyAndCache, title);

    /// <summary>The phenomenon and system papers of each group that has any: what the kit shows or measures.</summary>
    public static GenericChart PhenomenonAndSystem(CatalogCoverage coverage, string? title = "Phenomenon and system papers per group") =>
        Of(coverage, g => g.PhenomenonAndSystem, title);

    private static GenericChart Of(CatalogCoverage coverage, Func<GroupCoverage, CoverageCount> select, string? title)
    {
        ArgumentNullException.ThrowIfNull(coverage);
        var groups = coverage.Groups.Where(g => select(g).Rows > 0).ToList();
        if (groups.Count == 0) throw new ArgumentException($"{nameof(coverage)}: no group has papers of this kind", nameof(coverage));
        var keys = groups.Select(g => g.Group).ToArray();
        var names = groups.Select(g => g.Name).ToArray();
        var bars = Parts.Select(part =>
        {
            var values = groups.Select(g => part.Count(select(g))).ToArray();
            var chart = Plotly.NET.CSharp.Chart.StackedColumn<int, string, string>(values, Keys: keys, Name: part.Name, MultiText: names, MarkerColor: Color.fromHex(part.Color));
            var trace = GenericChart.getTraces(chart).Single();
            trace.SetProperty("textposition", "none");                      // the group's name shows on hover only
            trace.SetProperty("hovertemplate", "%{x}: %{text}<br>" + part.Name + ": %{y}<extra></extra>");
            return chart;
        });
        var combined = Plotly.NET.CSharp.Chart.Combine(bars)
            .WithXAxisStyle<string, string, string>(TitleText: "group")
            .WithYAxisStyle<int, int, string>(TitleText: "papers")
            .WithSize(Math.Clamp(60 + 34 * groups.Count, 420, 980), 420);
        return string.IsNullOrEmpty(title) ? combined : Plotly.NET.Chart.withTitle(title, null).Invoke(combined);
    }
}
