using Plotly.NET;

namespace AttnKit.Viz;

/// <summary>
/// One chart with a slider that steps through several views of the same kind (the heatmap at each temperature, each
/// mask), for notebooks where a parameter is the point. All views are computed up front, so the slider works in a
/// static page with no kernel behind it.
/// </summary>
public static class Slider
{
    /// <summary>
    /// Combines <paramref name="views"/> (each one chart of a single trace, e.g. from <see cref="Heatmap.Of"/>) into one
    /// chart whose slider shows one view at a time, starting at <paramref name="active"/>.
    /// </summary>
    public static GenericChart Of(IReadOnlyList<(string Label, GenericChart Chart)> views, string prefix, int active = 0, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(views);
        if (views.Count == 0) throw new ArgumentException($"{nameof(views)}: expected at least one view", nameof(views));
        if (active < 0 || active >= views.Count) throw new ArgumentException($"{nameof(active)}: expected 0..{views.Count - 1}, got {active}", nameof(active));
        var traceCounts = views.Select(v => GenericChart.getTraces(v.Chart).Count()).ToArray();
        if (traceCounts.Any(n => n != 1)) throw new ArgumentException($"{nameof(views)}: each view must be a chart of one trace; got {string.Join(", ", traceCounts)}", nameof(views));

        var combined = Plotly.NET.CSharp.Chart.Combine(views.Select(v => v.Chart));
        var traces = GenericChart.getTraces(combined).ToList();
        for (int i = 0; i < traces.Count; i++) traces[i].SetProperty("visible", i == active);
        var steps = views.Select((v, i) => new
        {
            label = v.Label,
            method = "restyle",
            args = new object[] { "visible", Enumerable.Range(0, views.Count).Select(j => j == i).ToArray() },
        }).ToArray();
        var layout = GenericChart.getLayout(combined);
        layout.SetProperty("sliders", new object[] { new { active, currentvalue = new { prefix }, pad = new { t = 70 }, steps } });
        if (title is not null) layout.SetProperty("title", new { text = title });
        return combined;
    }
}
