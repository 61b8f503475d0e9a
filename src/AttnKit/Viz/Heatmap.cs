using AttnKit.Core;
using Plotly.NET;
using Plotly.NET.CSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Viz;

/// <summary>Heatmaps of 2-D tensors: attention weights, masks, scores.</summary>
public static class Heatmap
{
    /// <summary>
    /// A heatmap of a 2-D tensor (rows top to bottom, like a matrix), optionally with row and column labels (e.g. the
    /// query and key tokens of an attention map) and a fixed colour range (so several heatmaps compare). Boolean tensors show as 0/1.
    /// </summary>
    public static GenericChart Of(Tensor matrix, string? title = null, IReadOnlyList<string>? rowLabels = null, IReadOnlyList<string>? columnLabels = null,
        string xTitle = "key", string yTitle = "query", string colorScale = "Viridis", double? zMin = null, double? zMax = null)
    {
        Check.Rank(matrix, 2, nameof(matrix), "(rows, columns)");
        var (rows, cols) = ((int)matrix.shape[0], (int)matrix.shape[1]);
        if (rowLabels is not null && rowLabels.Count != rows) throw new ArgumentException($"{nameof(rowLabels)}: expected {rows} labels, got {rowLabels.Count}", nameof(rowLabels));
        if (columnLabels is not null && columnLabels.Count != cols) throw new ArgumentException($"{nameof(columnLabels)}: expected {cols} labels, got {columnLabels.Count}", nameof(columnLabels));
        using var scope = torch.NewDisposeScope();
        var values = matrix.detach().to(ScalarType.Float64).cpu().contiguous().data<double>().ToArray();
        var z = Enumerable.Range(0, rows).Select(r => values.Skip(r * cols).Take(cols).ToArray()).ToArray();
        var x = (columnLabels ?? Enumerable.Range(0, cols).Select(i => i.ToString())).Select(Unique(columnLabels)).ToArray();
        var y = (rowLabels ?? Enumerable.Range(0, rows).Select(i => i.ToString())).Select(Unique(rowLabels)).ToArray();
        var chart = Plotly.NET.CSharp.Chart.Heatmap<double, string, string, string>(
            zData: z, X: x, Y: y, ReverseYAxis: true,
            ColorScale: StyleParam.Colorscale.NewCustom(Colors(colorScale)));
        var trace = GenericChart.getTraces(chart).Single();
        if (zMin is double lo) trace.SetProperty("zmin", lo);
        if (zMax is double hi) trace.SetProperty("zmax", hi);
        int side = Math.Clamp(28 * Math.Max(rows, cols) + 140, 320, 720);
        chart = chart
            .WithXAxisStyle<double, double, string>(TitleText: xTitle)
            .WithYAxisStyle<double, double, string>(TitleText: yTitle)
            .WithSize(side, side);
        return string.IsNullOrEmpty(title) ? chart : Plotly.NET.Chart.withTitle(title, null).Invoke(chart);
    }

    // Plotly merges equal category labels; repeated tokens ("the", "the") get an invisible suffix to stay apart.
    private static Func<string, int, string> Unique(IReadOnlyList<string>? labels)
    {
        if (labels is null) return (s, _) => s;
        var seen = new Dictionary<string, int>();
        return (s, _) => { seen[s] = seen.GetValueOrDefault(s) + 1; return seen[s] == 1 ? s : s + new string('\u200B', seen[s] - 1); };
    }

    private static IEnumerable<Tuple<double, Color>> Colors(string name) => name switch
    {
        "Blues" => [Tuple.Create(0.0, Color.fromHex("#f7fbff")), Tuple.Create(1.0, Color.fromHex("#08306b"))],
        "RdBu" => [Tuple.Create(0.0, Color.fromHex("#b2182b")), Tuple.Create(0.5, Color.fromHex("#f7f7f7")), Tuple.Create(1.0, Color.fromHex("#2166ac"))],
        _ => [Tuple.Create(0.0, Color.fromHex("#440154")), Tuple.Create(0.25, Color.fromHex("#3b528b")), Tuple.Create(0.5, Color.fromHex("#21918c")), Tuple.Create(0.75, Color.fromHex("#5ec962")), Tuple.Create(1.0, Color.fromHex("#fde725"))],
    };
}
