using AttnNotebooks.Runner.Site;
using AttnNotebooks.Runner.Tests.Site;

namespace AttnNotebooks.Runner.Tests.Browser;

/// <summary>The written site in a real browser: Debian's Chromium, offline, through file:// URLs.</summary>
public class SiteBrowserTests
{
    /// <summary>Where the last run left its site and screenshots, to look at by eye.</summary>
    private static readonly string Folder = Path.Combine(Path.GetTempPath(), "attn-site-browser-test");

    [Fact]
    public async Task The_sample_page_draws_its_charts_and_math_with_no_network()
    {
        var site = WriteSite();
        var report = await SiteAssertions.AssertPageDrawsOffline(Path.Combine(site, "sample.html"), Path.Combine(Folder, "sample.png"));
        Assert.Equal(2, report.Charts);
        Assert.Equal("2.28.0", report.PlotlyVersion);
        Assert.True(report.MathElements >= 8, $"{report.MathElements} math elements");
        Assert.Equal(["attention-at-a-glance", "the-equation", "exercise", "exercise-1"], report.HeadingIds);
        Assert.Contains(report.Requests, r => r.EndsWith("/assets/plotly-2.28.0.min.js", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_index_links_to_the_page()
    {
        var site = WriteSite();
        await SiteAssertions.AssertPageDrawsOffline(Path.Combine(site, "index.html"), Path.Combine(Folder, "index.png"));
        await SiteAssertions.AssertIndexLinksTo(Path.Combine(site, "index.html"), "sample.html");
    }

    [Fact]
    public async Task The_assertions_catch_a_chart_that_falls_back_to_the_cdn()
    {
        if (SystemChromium.ExecutablePath is null) Assert.Skip("no system Chromium");
        var site = WriteSite();
        File.Delete(Path.Combine(site, "assets", SiteAssets.PlotlyFile)); // now the charts' fallback asks the CDN
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => SiteAssertions.AssertPageDrawsOffline(Path.Combine(site, "sample.html")));
        Assert.Contains("asked the network for: https://cdn.plot.ly/plotly-2.28.0.min.js", failure.Message);
    }

    [Fact]
    public async Task The_assertions_catch_a_script_error()
    {
        if (SystemChromium.ExecutablePath is null) Assert.Skip("no system Chromium");
        var site = WriteSite();
        var page = Path.Combine(site, "broken.html");
        File.WriteAllText(page, File.ReadAllText(Path.Combine(site, "sample.html")).Replace("</main>", "<script>undefinedFunction();</script></main>"));
        var failure = await Assert.ThrowsAnyAsync<Exception>(() => SiteAssertions.AssertPageDrawsOffline(page));
        Assert.Contains("undefinedFunction", failure.Message);
    }

    private static string WriteSite()
    {
        var site = Path.Combine(Folder, "site-" + Guid.NewGuid().ToString("N")[..8]);
        SiteWriter.Write([("sample.ipynb", SampleNotebook.Load())], site, new SiteOptions
        {
            Title = "AttnNotebooks test site",
            Statuses = new Dictionary<string, NotebookStatus> { ["sample.ipynb"] = new(true, 1.5) },
            Footer = "written by the browser test",
        });
        return site;
    }
}
