using AttnKit.Models.Training;
using Plotly.NET;
using Plotly.NET.CSharp;

namespace AttnKit.Viz;

/// <summary>
/// The chart of a training run: the loss per step (left axis, log scale) and the metric (right axis): on each
/// step's training batch as faint dots, on held-out batches as a line. A notebook shows it once and redraws it from
/// <see cref="TrainOptions.OnProgress"/> as the run goes (<c>var shown = display(chart); … shown.Update(TrainingChart.Of(trainer.History))</c>).
/// </summary>
public static class TrainingChart
{
    /// <summary>The chart of <paramref name="history"/> (one record per step).</summary>
    public static GenericChart Of(IReadOnlyList<TrainProgress> history, string? title = null, double? target = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        string metric = history.Count > 0 ? history[0].MetricName : "metric";
        var steps = history.Select(h => h.Step).ToArray();
        var loss = Plotly.NET.CSharp.Chart.Line<int, double, string>(steps, history.Select(h => h.Loss), Name: "training loss", LineColor: Color.fromHex("#0969da"));
        var train = Plotly.NET.CSharp.Chart.Point<int, double, string>(steps, history.Select(h => h.Metric), Name: $"{metric} (training batch)", MarkerColor: Color.fromHex("#d4a72c"), Opacity: 0.35);
        var evals = history.Where(h => h.EvalMetric is not null).ToList();
        var held = Plotly.NET.CSharp.Chart.Line<int, double, string>(evals.Select(h => h.Step), evals.Select(h => h.EvalMetric!.Value), Name: $"{metric} (held out)", ShowMarkers: true, LineColor: Color.fromHex("#1a7f37"));
        foreach (var c in new[] { train, held }) GenericChart.getTraces(c).Single().SetProperty("yaxis", "y2");
        var charts = new List<GenericChart> { loss, train, held };
        if (target is double t && steps.Length > 0)
        {
            var line = Plotly.NET.CSharp.Chart.Line<int, double, string>([steps[0], steps[^1]], [t, t], Name: $"target {t:0.##}", LineColor: Color.fromHex("#cf222e"), LineDash: StyleParam.DrawingStyle.Dash);
            GenericChart.getTraces(line).Single().SetProperty("yaxis", "y2");
            charts.Add(line);
        }
        var chart = Plotly.NET.CSharp.Chart.Combine(charts)
            .WithXAxisStyle<int, int, string>(TitleText: "step")
            .WithSize(820, 420);
        var layout = GenericChart.getLayout(chart);
        var y1 = new DynamicObj.DynamicObj();
        y1.SetProperty("title", Title("loss (log)"));
        y1.SetProperty("type", "log");
        var y2 = new DynamicObj.DynamicObj();
        y2.SetProperty("title", Title(metric));
        y2.SetProperty("overlaying", "y");
        y2.SetProperty("side", "right");
        if (history.All(h => h.Metric is >= 0 and <= 1)) y2.SetProperty("range", new[] { 0.0, 1.02 });
        layout.SetProperty("yaxis", y1);
        layout.SetProperty("yaxis2", y2);
        var legend = new DynamicObj.DynamicObj();
        legend.SetProperty("orientation", "h");
        legend.SetProperty("y", -0.2);
        layout.SetProperty("legend", legend);
        return string.IsNullOrEmpty(title) ? chart : Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
    }

    private static DynamicObj.DynamicObj Title(string text)
    {
        var t = new DynamicObj.DynamicObj();
        t.SetProperty("text", text);
        return t;
    }
}
