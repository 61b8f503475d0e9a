using Plotly.NET;
using Plotly.NET.CSharp;

namespace AttnKit.Viz;

/// <summary>Line, bar and scatter charts of plain numbers (experiment results: a value per depth, per step, per method).</summary>
public static class SeriesChart
{
    /// <summary>
    /// One line per series (name, x, y), optionally on log axes (a log axis drops points that are not positive, as a log
    /// axis must).
    /// </summary>
    public static GenericChart Lines(IReadOnlyList<(string Name, double[] X, double[] Y)> series, string? title = null, string xTitle = "x", string yTitle = "y",
        bool logX = false, bool logY = false)
    {
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0) throw new ArgumentException($"{nameof(series)}: expected at least one series", nameof(series));
        foreach (var (name, x, y) in series)
        {
            ArgumentNullException.ThrowIfNull(x);
            ArgumentNullException.ThrowIfNull(y);
            if (x.Length != y.Length) throw new ArgumentException($"{nameof(series)}: series '{name}' has {x.Length} x values and {y.Length} y values", nameof(series));
        }
        var charts = series.Select(s =>
        {
            var keep = Enumerable.Range(0, s.X.Length).Where(i => double.IsFinite(s.X[i]) && double.IsFinite(s.Y[i]) && (!logX || s.X[i] > 0) && (!logY || s.Y[i] > 0)).ToArray();
            return Plotly.NET.CSharp.Chart.Line<double, double, string>(keep.Select(i => s.X[i]).ToArray(), keep.Select(i => s.Y[i]).ToArray(), Name: s.Name, ShowMarkers: true);
        });
        var chart = Plotly.NET.CSharp.Chart.Combine(charts)
            .WithXAxisStyle<double, double, string>(TitleText: xTitle, AxisType: logX ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear)
            .WithYAxisStyle<double, double, string>(TitleText: yTitle, AxisType: logY ? StyleParam.AxisType.Log : StyleParam.AxisType.Linear)
            .WithSize(720, 420);
        return string.IsNullOrEmpty(title) ? chart : Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
    }

    /// <summary>One bar per label.</summary>
    public static GenericChart Bars(IReadOnlyList<string> labels, IReadOnlyList<double> values, string? title = null, string yTitle = "value", double? yMax = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(values);
        if (labels.Count != values.Count || labels.Count == 0) throw new ArgumentException($"{nameof(values)}: expected one value per label ({labels.Count}), got {values.Count}", nameof(values));
        var chart = Plotly.NET.CSharp.Chart.Column<double, string, string>(values.ToArray(), Keys: labels.ToArray())
            .WithYAxisStyle<double, double, string>(TitleText: yTitle)
            .WithSize(Math.Clamp(120 + 90 * labels.Count, 420, 900), 400);
        if (yMax is double hi) chart = chart.WithYAxisStyle<double, double, string>(TitleText: yTitle, MinMax: Tuple.Create(0.0, hi));
        return string.IsNullOrEmpty(title) ? chart : Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
    }

    /// <summary>Scatter plots of 2-D points, one trace per group (name, xs, ys), with equal axis scales.</summary>
    public static GenericChart Points(IReadOnlyList<(string Name, double[] X, double[] Y)> groups, string? title = null, string xTitle = "x", string yTitle = "y")
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Count == 0) throw new ArgumentException($"{nameof(groups)}: expected at least one group", nameof(groups));
        foreach (var (name, x, y) in groups)
            if (x is null || y is null || x.Length != y.Length) throw new ArgumentException($"{nameof(groups)}: group '{name}' needs as many x as y values", nameof(groups));
        var chart = Plotly.NET.CSharp.Chart.Combine(groups.Select(g => Plotly.NET.CSharp.Chart.Point<double, double, string>(g.X, g.Y, Name: g.Name)))
            .WithXAxisStyle<double, double, string>(TitleText: xTitle)
            .WithYAxisStyle<double, double, string>(TitleText: yTitle)
            .WithSize(560, 520);
        var layout = GenericChart.getLayout(chart);
        layout.SetProperty("yaxis", new { title = new { text = yTitle }, scaleanchor = "x", scaleratio = 1 });
        return string.IsNullOrEmpty(title) ? chart : Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
    }
}
