using AttnKit.Attention.KvLayouts;
using Plotly.NET;
using Plotly.NET.CSharp;

namespace AttnKit.Viz;

/// <summary>The charts of notebook 03: what each KV layout costs and keeps, and how W_Q·W_Kᵀ's spectrum moves in training.</summary>
public static class KvLayoutChart
{
    /// <summary>
    /// Quality against KV bytes per token, one labelled point per layout, the marker's area growing with the decode FLOPs per
    /// token (hover for prefill FLOPs): the layouts a designer picks from.
    /// </summary>
    public static GenericChart Tradeoff(IReadOnlyList<LayoutRow> rows, string metricName = "accuracy", string? title = "What each layout caches, costs and keeps")
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) throw new ArgumentException($"{nameof(rows)}: expected at least one row", nameof(rows));
        double maxFlops = rows.Max(r => r.DecodeFlopsPerToken);
        var points = rows.Select((r, i) =>
        {
            var chart = Plotly.NET.CSharp.Chart.Point<long, double, string>([r.KvElementsPerToken * 2], [r.Accuracy], Name: r.Layout, Text: r.Layout,
                MarkerColor: Color.fromHex(Palette[i % Palette.Length]));
            var trace = GenericChart.getTraces(chart).Single();
            trace.SetProperty("mode", "markers+text");
            trace.SetProperty("textposition", "top center");
            trace.SetProperty("marker", new { size = 10 + 22 * Math.Sqrt(r.DecodeFlopsPerToken / maxFlops) });
            trace.SetProperty("hovertemplate", $"{r.Layout}<br>KV bytes/token (fp16): %{{x}}<br>{metricName}: %{{y:.3f}}<br>decode MFLOP/token: {r.DecodeFlopsPerToken / 1e6:0.###}<br>prefill MFLOP/token: {r.PrefillFlopsPerToken / 1e6:0.###}<extra></extra>");
            return chart;
        });
        var combined = Plotly.NET.CSharp.Chart.Combine(points)
            .WithXAxisStyle<double, double, string>(TitleText: "KV cache bytes per token (all layers, fp16)")
            .WithYAxisStyle<double, double, string>(TitleText: metricName)
            .WithSize(820, 460);
        return string.IsNullOrEmpty(title) ? combined : Plotly.NET.Chart.withTitle(title, null).Invoke(combined);
    }

    /// <summary>
    /// The eigenvalues of W_Q·W_Kᵀ·(W_Q·W_Kᵀ)ᵀ/d of one layer, over their mean, largest first (log scale), one line per
    /// variant, with the Marchenko–Pastur edge (4); a slider steps through the training steps.
    /// </summary>
    public static GenericChart Spectra(IReadOnlyDictionary<string, IReadOnlyList<(int Step, SpectrumDiagnostics[] Layers)>> variants, int layer = 0, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(variants);
        if (variants.Count == 0) throw new ArgumentException($"{nameof(variants)}: expected at least one variant", nameof(variants));
        var steps = variants.First().Value.Select(s => s.Step).ToArray();
        if (variants.Values.Any(v => !v.Select(s => s.Step).SequenceEqual(steps)))
            throw new ArgumentException($"{nameof(variants)}: every variant needs the same steps", nameof(variants));
        if (layer < 0 || variants.Values.Any(v => v.Any(s => layer >= s.Layers.Length)))
            throw new ArgumentException($"{nameof(layer)}: no layer {layer} in every variant", nameof(layer));
        var names = variants.Keys.ToArray();
        var charts = new List<GenericChart>();
        foreach (int step in steps)
        {
            for (int v = 0; v < names.Length; v++)
            {
                var diag = variants[names[v]].Single(s => s.Step == step).Layers[layer];
                double mean = diag.Eigenvalues.Average();
                var y = diag.Eigenvalues.Select(x => Math.Max(x / mean, 1e-6)).ToArray();
                charts.Add(Plotly.NET.CSharp.Chart.Line<int, double, string>(Enumerable.Range(1, y.Length), y,
                    Name: $"{names[v]} (outliers {diag.Outliers}, stable rank {diag.StableRank:0.0})", ShowMarkers: true, LineColor: Color.fromHex(Palette[v % Palette.Length])));
            }
            int n = variants.First().Value[0].Layers[layer].Eigenvalues.Length;
            charts.Add(Plotly.NET.CSharp.Chart.Line<int, double, string>([1, n], [4.0, 4.0], Name: "MP edge (4 × mean)", LineColor: Color.fromHex("#cf222e"), LineDash: StyleParam.DrawingStyle.Dash));
        }
        int per = names.Length + 1;
        var combined = Plotly.NET.CSharp.Chart.Combine(charts)
            .WithXAxisStyle<int, int, string>(TitleText: "eigenvalue index (largest first)")
            .WithSize(820, 480);
        var traces = GenericChart.getTraces(combined).ToList();
        for (int i = 0; i < traces.Count; i++) traces[i].SetProperty("visible", i / per == steps.Length - 1);
        var sliderSteps = steps.Select((s, k) => new
        {
            label = s.ToString(System.Globalization.CultureInfo.InvariantCulture),
            method = "restyle",
            args = new object[] { "visible", Enumerable.Range(0, traces.Count).Select(i => i / per == k).ToArray() },
        }).ToArray();
        var layout = GenericChart.getLayout(combined);
        layout.SetProperty("sliders", new object[] { new { active = steps.Length - 1, currentvalue = new { prefix = "training step: " }, pad = new { t = 60 }, steps = sliderSteps } });
        layout.SetProperty("yaxis", new { type = "log", title = new { text = "λ / mean λ" } });
        layout.SetProperty("title", new { text = title ?? $"Spectrum of W_Q·W_Kᵀ, layer {layer}" });
        return combined;
    }

    /// <summary>Bars of a score per label, one series per name (e.g. accuracy after conversion and after uptraining, per key/value head count).</summary>
    public static GenericChart Bars(IReadOnlyList<string> labels, IReadOnlyDictionary<string, double[]> series, string yTitle, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(series);
        if (series.Count == 0 || series.Values.Any(v => v.Length != labels.Count))
            throw new ArgumentException($"{nameof(series)}: expected at least one series of {labels.Count} values", nameof(series));
        var bars = series.Select((kv, i) => Plotly.NET.CSharp.Chart.Column<double, string, string>(kv.Value, Keys: labels.ToArray(), Name: kv.Key, MarkerColor: Color.fromHex(Palette[i % Palette.Length])));
        var chart = Plotly.NET.CSharp.Chart.Combine(bars).WithYAxisStyle<double, double, string>(TitleText: yTitle).WithSize(640, 360);
        return string.IsNullOrEmpty(title) ? chart : Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
    }

    /// <summary>A line of y against x with markers (e.g. accuracy against KV bytes per token as a latent shrinks).</summary>
    public static GenericChart Curve(IReadOnlyList<double> x, IReadOnlyList<double> y, string name, string xTitle, string yTitle, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count || x.Count == 0) throw new ArgumentException($"{nameof(y)}: expected {x.Count} values like x, got {y.Count}", nameof(y));
        var chart = Plotly.NET.CSharp.Chart.Line<double, double, string>(x.ToArray(), y.ToArray(), Name: name, ShowMarkers: true, LineColor: Color.fromHex(Palette[0]))
            .WithXAxisStyle<double, double, string>(TitleText: xTitle).WithYAxisStyle<double, double, string>(TitleText: yTitle).WithSize(640, 360);
        return string.IsNullOrEmpty(title) ? chart : Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
    }

    private static readonly string[] Palette = ["#0969da", "#1a7f37", "#cf222e", "#8250df", "#bc4c00", "#d4a72c", "#1b7c83", "#6e7781", "#e85aad", "#0550ae", "#4d2d00"];
}
