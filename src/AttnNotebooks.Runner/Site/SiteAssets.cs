using System.Reflection;

namespace AttnNotebooks.Runner.Site;

/// <summary>
/// The files every page shares, in <c>assets/</c>: plotly.js and its licence (from the copy Plotly.NET embeds, so charts
/// draw offline) and the site's style sheet. Pages load plotly.js with a plain, synchronous script tag in their head, so
/// <c>window.Plotly</c> exists before any chart output runs and a chart never falls back to the CDN.
/// </summary>
public static class SiteAssets
{
    /// <summary>The folder, relative to the site, that holds the assets.</summary>
    public const string Folder = "assets";

    /// <summary>The style sheet's file name in <see cref="Folder"/>.</summary>
    public const string StyleSheet = "site.css";

    private static readonly Assembly PlotlyAssembly = typeof(Plotly.NET.Chart).Assembly;

    /// <summary>The name of the plotly.js resource in Plotly.NET.dll, e.g. "Plotly.NET.plotly-2.28.0.min.js".</summary>
    private static string PlotlyResource { get; } =
        PlotlyAssembly.GetManifestResourceNames().FirstOrDefault(n => n.StartsWith("Plotly.NET.plotly-", StringComparison.Ordinal) && n.EndsWith(".min.js", StringComparison.Ordinal))
        ?? throw new InvalidOperationException($"Plotly.NET {PlotlyAssembly.GetName().Version} does not embed plotly.js; the site cannot draw charts offline");

    /// <summary>The file name of plotly.js in <see cref="Folder"/>, e.g. "plotly-2.28.0.min.js" (the version the charts ask for).</summary>
    public static string PlotlyFile { get; } = PlotlyResource["Plotly.NET.".Length..];

    /// <summary>Writes the assets into <c><paramref name="siteDir"/>/assets</c>.</summary>
    public static void Write(string siteDir)
    {
        var dir = Path.Combine(siteDir, Folder);
        Directory.CreateDirectory(dir);
        Copy(PlotlyAssembly, PlotlyResource, Path.Combine(dir, PlotlyFile));
        var license = PlotlyResource + ".LICENSE.txt";
        if (PlotlyAssembly.GetManifestResourceInfo(license) is not null) Copy(PlotlyAssembly, license, Path.Combine(dir, PlotlyFile + ".LICENSE.txt"));
        Copy(typeof(SiteAssets).Assembly, "AttnNotebooks.Runner.Site.site.css", Path.Combine(dir, StyleSheet));
    }

    private static void Copy(Assembly assembly, string resource, string path)
    {
        using var source = assembly.GetManifestResourceStream(resource) ?? throw new InvalidOperationException($"missing resource {resource} in {assembly.GetName().Name}");
        using var target = File.Create(path);
        source.CopyTo(target);
    }
}
