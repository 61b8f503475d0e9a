using System.Globalization;
using System.Net;
using System.Text;
using AttnKit.Viz;
using Microsoft.Data.Analysis;
using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Notebook;

/// <summary>
/// The kit's display formatters, registered with Microsoft.DotNet.Interactive.Formatting so that notebooks (in the
/// runner, in VS Code or in Jupyter) show charts, tensors and tables readably:
/// Plotly charts as interactive HTML (<see cref="ChartHtml"/>); tensors as a header (shape, dtype, device) and a table
/// of values, with a heatmap for small 2-D ones, or summary statistics for large ones; DataFrames as HTML tables;
/// exercise checks (<see cref="AttnKit.Exercises.CheckResult"/>) as a table of cases.
/// </summary>
public static class KitFormatters
{
    private static readonly Lock Gate = new();
    private static bool _registered;

    /// <summary>Most values a tensor table shows.</summary>
    public const int MaxTableValues = 400;
    /// <summary>Largest side of a 2-D tensor shown as a heatmap.</summary>
    public const int MaxHeatmapSide = 64;
    /// <summary>Most DataFrame rows shown.</summary>
    public const int MaxRows = 50;

    /// <summary>Registers the formatters (once; later calls do nothing).</summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (_registered) return;
            Formatter.Register<GenericChart>((chart, writer) => writer.Write(ChartHtml.Render(chart)), HtmlFormatter.MimeType);
            Formatter.Register<GenericChart>((chart, writer) => writer.Write(ChartText(chart)), PlainTextFormatter.MimeType);
            Formatter.Register<Tensor>((t, writer) => writer.Write(TensorHtml(t)), HtmlFormatter.MimeType);
            Formatter.Register<Tensor>((t, writer) => writer.Write(TensorText(t)), PlainTextFormatter.MimeType);
            Formatter.Register<DataFrame>((df, writer) => writer.Write(DataFrameHtml(df)), HtmlFormatter.MimeType);
            Formatter.Register<DataFrame>((df, writer) => writer.Write(DataFrameText(df)), PlainTextFormatter.MimeType);
            Formatter.Register<AttnKit.Core.DoctorReport>((r, writer) => writer.Write(DoctorHtml(r)), HtmlFormatter.MimeType);
            Formatter.Register<AttnKit.Core.DoctorReport>((r, writer) => writer.Write(string.Join("\n", r.Select(c => $"{(c.Ok ? "ok  " : "FAIL")} {c.Name}: {c.Detail}{(c.Fix is null ? "" : " (fix: " + c.Fix + ")")}"))), PlainTextFormatter.MimeType);
            Formatter.Register<AttnKit.Exercises.CheckResult>((r, writer) => writer.Write(r.ToHtml()), HtmlFormatter.MimeType);
            Formatter.Register<AttnKit.Exercises.CheckResult>((r, writer) => writer.Write(r.ToText()), PlainTextFormatter.MimeType);
            _registered = true;
        }
    }

    /// <summary>The doctor's checks as a table: check, status, what was found (and the fix).</summary>
    public static string DoctorHtml(AttnKit.Core.DoctorReport report)
    {
        var sb = new StringBuilder("<table class=\"attn-doctor\"><thead><tr><th>check</th><th></th><th>found</th></tr></thead><tbody>");
        foreach (var c in report)
        {
            sb.Append("<tr><td>").Append(WebUtility.HtmlEncode(c.Name)).Append("</td><td style=\"color:").Append(c.Ok ? "#1a7f37\">ok" : "#cf222e\">FAIL").Append("</td><td>")
              .Append(WebUtility.HtmlEncode(c.Detail));
            if (c.Fix is not null) sb.Append("<br><b>fix:</b> ").Append(WebUtility.HtmlEncode(c.Fix));
            sb.Append("</td></tr>");
        }
        return sb.Append("</tbody></table>").ToString();
    }

    /// <summary>"Plotly chart: 2 traces (scatter, heatmap)", for plain-text outputs.</summary>
    public static string ChartText(GenericChart chart)
    {
        var types = GenericChart.getTraces(chart).Select(t => t.TryGetTypedPropertyValue<string>("type") is { } o && o != null ? o.Value : "trace").ToArray();
        return $"Plotly chart: {types.Length} trace{(types.Length == 1 ? "" : "s")} ({string.Join(", ", types)})";
    }

    /// <summary>"Tensor (2, 3) Float32 on cpu".</summary>
    public static string Header(Tensor t) => t.IsInvalid ? "Tensor (disposed)" : $"Tensor ({string.Join(", ", t.shape)}) {t.dtype} on {t.device}";

    /// <summary>Plain text: the header, then the values (TorchSharp's own layout) when small, else summary statistics.</summary>
    public static string TensorText(Tensor t)
    {
        if (t.IsInvalid) return Header(t);
        using var scope = torch.NewDisposeScope();
        var sb = new StringBuilder(Header(t));
        if (t.numel() <= MaxTableValues) sb.Append('\n').Append(t.cpu().ToString(TorchSharp.TensorStringStyle.Numpy));
        else sb.Append('\n').Append(Summary(t));
        return sb.ToString();
    }

    /// <summary>HTML: the header, a table of values for tensors of at most two dimensions and <see cref="MaxTableValues"/> values, a heatmap for small 2-D ones.</summary>
    public static string TensorHtml(Tensor t)
    {
        if (t.IsInvalid) return $"<div class=\"attn-tensor\"><b>{Header(t)}</b></div>";
        using var scope = torch.NewDisposeScope();
        var sb = new StringBuilder("<div class=\"attn-tensor\">");
        sb.Append("<div><b>").Append(WebUtility.HtmlEncode(Header(t))).Append("</b></div>");
        var values = t.detach().cpu();
        bool numeric = values.dtype != ScalarType.ComplexFloat32 && values.dtype != ScalarType.ComplexFloat64;
        if (t.dim() <= 2 && t.numel() <= MaxTableValues && numeric)
        {
            var m = values.dim() switch { 0 => values.view(1, 1), 1 => values.view(1, -1), _ => values };
            var rows = (int)m.shape[0];
            var cols = (int)m.shape[1];
            var data = m.to(ScalarType.Float64).contiguous().data<double>().ToArray();
            sb.Append("<table class=\"attn-tensor-table\" style=\"font-family:monospace;border-collapse:collapse\">");
            if (t.dim() == 2)
            {
                sb.Append("<tr><th></th>");
                for (int c = 0; c < cols; c++) sb.Append("<th>").Append(c).Append("</th>");
                sb.Append("</tr>");
            }
            for (int r = 0; r < rows; r++)
            {
                sb.Append("<tr>");
                if (t.dim() == 2) sb.Append("<th>").Append(r).Append("</th>");
                for (int c = 0; c < cols; c++) sb.Append("<td style=\"padding:0 6px;text-align:right\">").Append(Number(data[r * cols + c], values.dtype)).Append("</td>");
                sb.Append("</tr>");
            }
            sb.Append("</table>");
            if (t.dim() == 2 && rows >= 2 && cols >= 2 && rows <= MaxHeatmapSide && cols <= MaxHeatmapSide)
                sb.Append(ChartHtml.Render(Heatmap.Of(values, xTitle: "column", yTitle: "row")));
        }
        else if (numeric && t.numel() > 0)
        {
            sb.Append("<pre>").Append(WebUtility.HtmlEncode(Summary(values))).Append("</pre>");
        }
        return sb.Append("</div>").ToString();
    }

    private static string Summary(Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        var f = t.detach().to(ScalarType.Float64);
        string S(Tensor x) => x.item<double>().ToString("g5", CultureInfo.InvariantCulture);
        return $"min {S(f.min())}, max {S(f.max())}, mean {S(f.mean())}, std {S(f.numel() > 1 ? f.std() : torch.zeros(1, ScalarType.Float64).sum())}; {f.isnan().sum().item<long>()} NaN";
    }

    private static string Number(double x, ScalarType dtype) => dtype switch
    {
        ScalarType.Bool => x != 0 ? "true" : "false",
        ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64 or ScalarType.Byte => ((long)x).ToString(CultureInfo.InvariantCulture),
        _ => x.ToString("g4", CultureInfo.InvariantCulture),
    };

    /// <summary>An HTML table of the first <see cref="MaxRows"/> rows, with the row and column count.</summary>
    public static string DataFrameHtml(DataFrame df)
    {
        var sb = new StringBuilder("<table class=\"attn-dataframe\"><thead><tr>");
        foreach (var column in df.Columns) sb.Append("<th>").Append(WebUtility.HtmlEncode(column.Name)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        long shown = Math.Min(df.Rows.Count, MaxRows);
        for (long r = 0; r < shown; r++)
        {
            sb.Append("<tr>");
            foreach (var column in df.Columns) sb.Append("<td>").Append(WebUtility.HtmlEncode(Cell(column[r]))).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table>");
        sb.Append("<div><i>").Append(df.Rows.Count).Append(" rows × ").Append(df.Columns.Count).Append(" columns");
        if (shown < df.Rows.Count) sb.Append(", first ").Append(shown).Append(" shown");
        return sb.Append("</i></div>").ToString();
    }

    /// <summary>A plain-text table of the first <see cref="MaxRows"/> rows.</summary>
    public static string DataFrameText(DataFrame df)
    {
        var names = df.Columns.Select(c => c.Name).ToArray();
        long shown = Math.Min(df.Rows.Count, MaxRows);
        var cells = Enumerable.Range(0, (int)shown).Select(r => df.Columns.Select(c => Cell(c[r])).ToArray()).ToArray();
        var widths = names.Select((n, i) => Math.Max(n.Length, cells.Length == 0 ? 0 : cells.Max(row => row[i].Length))).ToArray();
        var sb = new StringBuilder(string.Join("  ", names.Select((n, i) => n.PadRight(widths[i])))).Append('\n');
        foreach (var row in cells) sb.Append(string.Join("  ", row.Select((v, i) => v.PadRight(widths[i])))).Append('\n');
        return sb.Append($"{df.Rows.Count} rows × {df.Columns.Count} columns").ToString();
    }

    private static string Cell(object? value) => value switch
    {
        null => "",
        double d => d.ToString("g6", CultureInfo.InvariantCulture),
        float f => f.ToString("g6", CultureInfo.InvariantCulture),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
