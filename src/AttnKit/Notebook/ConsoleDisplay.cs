using Microsoft.DotNet.Interactive.Formatting;
using Plotly.NET;

namespace AttnKit.Notebook;

/// <summary>
/// <c>display()</c> for a notebook exported as a C# file-based app: text goes to the console (the plain-text
/// formatters), and each chart is saved as a self-contained HTML page (plotly.js inlined, so it opens offline)
/// in a folder beside the app, with a line saying where.
/// </summary>
public sealed class ConsoleDisplay
{
    private readonly string _folder;
    private readonly string _prefix;
    private int _charts;

    /// <summary>Charts go to <paramref name="folder"/> as <paramref name="prefix"/>-chart-N.html.</summary>
    public ConsoleDisplay(string folder, string prefix)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        (_folder, _prefix) = (folder, prefix);
        KitFormatters.Register();
    }

    /// <summary>A shown value; <see cref="Update"/> shows a new one, as the kernel's DisplayedValue does.</summary>
    public sealed class Shown(ConsoleDisplay owner, string? chartPath)
    {
        /// <summary>Where the chart was saved, when it was a chart.</summary>
        public string? ChartPath { get; } = chartPath;
        /// <summary>Shows <paramref name="value"/> (a console cannot replace what it printed, so it prints again).</summary>
        public Shown Update(object? value) => owner.Show(value);
    }

    /// <summary>Shows a value: prints it, or saves it when it is a chart.</summary>
    public Shown Show(object? value)
    {
        if (value is GenericChart chart)
        {
            Directory.CreateDirectory(_folder);
            var path = Path.Combine(_folder, $"{_prefix}-chart-{++_charts}.html");
            File.WriteAllText(path, Page(chart, $"{_prefix}: chart {_charts}"));
            Console.WriteLine($"{KitFormatters.ChartText(chart)} saved to {path}");
            return new Shown(this, path);
        }
        Console.WriteLine(value is null ? "<null>" : value is string s ? s : value.ToDisplayString(PlainTextFormatter.MimeType));
        return new Shown(this, null);
    }

    /// <summary>A self-contained HTML page showing <paramref name="chart"/>.</summary>
    public static string Page(GenericChart chart, string title) =>
        $"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{System.Net.WebUtility.HtmlEncode(title)}</title>\n<script>{ChartHtml.PlotlyJs()}</script></head>\n<body>\n{ChartHtml.Render(chart)}\n</body></html>\n";
}
