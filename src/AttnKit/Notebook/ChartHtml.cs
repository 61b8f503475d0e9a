using System.Net;
using System.Text.Json.Nodes;
using Plotly.NET;

namespace AttnKit.Notebook;

/// <summary>
/// The HTML of a Plotly chart as the kit's notebooks show it: a div, and a script that draws it with the page's
/// <c>window.Plotly</c>. The runner's site loads plotly.js from a local file first, so its pages make no network
/// request; in Jupyter or VS Code, where no Plotly is loaded, the script fetches plotly.js 2.28 (the version
/// Plotly.NET embeds) from its CDN, as the .NET Interactive kernel's chart display does.
/// </summary>
public static class ChartHtml
{
    /// <summary>The plotly.js version Plotly.NET 6 embeds.</summary>
    public const string PlotlyVersion = "2.28.0";

    /// <summary>Where the fallback loads plotly.js from when the page has none.</summary>
    public const string CdnUrl = "https://cdn.plot.ly/plotly-" + PlotlyVersion + ".min.js";

    /// <summary>The chart as HTML (see the class remarks).</summary>
    public static string Render(GenericChart chart)
    {
        ArgumentNullException.ThrowIfNull(chart);
        var figure = JsonNode.Parse(GenericChart.toFigureJson(chart))!.AsObject();
        var data = figure["data"]?.ToJsonString() ?? "[]";
        var layout = figure["layout"] as JsonObject ?? new JsonObject();
        var id = "attn-chart-" + Guid.NewGuid().ToString("N");
        var width = layout["width"]?.ToString();
        var height = layout["height"]?.ToString();
        var style = $"width:{(width is null ? "100%" : width + "px")};height:{(height is null ? "450px" : height + "px")};max-width:100%";
        return $"""
            <div id="{id}" class="attn-chart" style="{WebUtility.HtmlEncode(style)}"></div>
            <script type="text/javascript">(function(){"{"}var draw=function(){"{"}Plotly.newPlot('{id}', {ScriptSafe(data)}, {ScriptSafe(layout.ToJsonString())}, {"{"}"responsive":true{"}"});{"}"};if(window.Plotly){"{"}draw();{"}"}else{"{"}var s=document.createElement('script');s.src='{CdnUrl}';s.onload=draw;document.head.appendChild(s);{"}"}{"}"})();</script>
            """;
    }

    /// <summary>plotly.js itself, as Plotly.NET embeds it (for pages that must work offline).</summary>
    public static string PlotlyJs()
    {
        using var stream = typeof(GenericChart).Assembly.GetManifestResourceStream($"Plotly.NET.plotly-{PlotlyVersion}.min.js")
            ?? throw new InvalidOperationException($"Plotly.NET does not embed plotly-{PlotlyVersion}.min.js");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    // JSON inside a <script> must not close the script element.
    private static string ScriptSafe(string json) => json.Replace("</", "<\\/", StringComparison.Ordinal);
}
