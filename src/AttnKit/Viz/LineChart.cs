using Plotly.NET;
using Plotly.NET.CSharp;

namespace AttnKit.Viz;

/// <summary>Line charts of measurements: one line per series (a policy, a cache form) over a shared x (a budget, a length).</summary>
public static class LineChart
{
    /// <summary>One line with markers per series of (x, y) points, in x order.</summary>
    public static GenericChart Of(IEnumerable<(string Series, double X, double Y)> points, string xTitle, string yTitle, string? title = null, bool logX = false)
    {
        ArgumentNullException.ThrowIfNull(points);
        var list = points.ToList();
        if (list.Count == 0) throw new ArgumentException($"{nameof(points)}: expected at least one point", nameof(points));
        var lines = list.GroupBy(p => p.Series).Select(g =>
        {
            var ordered = g.OrderBy(p => p.X).ToArray();
            return Plotly.NET.CSharp.Chart.Line<double, double, string>(ordered.Select(p => p.X).ToArray(), ordered.Select(p => p.Y).ToArray(), Name: g.Key, ShowMarkers: true);
        });
        var chart = Plotly.NET.CSharp.Chart.Combine(lines)
            .WithXAxisStyle<double, double, string>(TitleText: xTitle)
            .WithYAxisStyle<double, double, string>(TitleText: yTitle)
            .WithSize(720, 420);
        if (logX) GenericChart.getLayout(chart).SetProperty("xaxis", new { type = "log", title = new { text = xTitle } });
        return string.IsNullOrEmpty(title) ? chart : Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
    }
}
