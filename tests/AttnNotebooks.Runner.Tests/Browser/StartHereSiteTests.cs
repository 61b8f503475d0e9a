namespace AttnNotebooks.Runner.Tests.Browser;

/// <summary>The site of the real first notebook, written by <c>run</c> as a user runs it, in a real browser.</summary>
public class StartHereSiteTests
{
    [Fact]
    public async Task The_start_here_page_draws_every_chart_offline_with_no_errors()
    {
        if (SystemChromium.ExecutablePath is null) Assert.Skip("no system Chromium (apt-get install chromium)");
        var root = RepositoryNotebooksTests.RepositoryRoot();
        var output = Path.Combine(Path.GetTempPath(), "attn-start-here-site");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        var (code, text) = RunnerProcess.Run(new Dictionary<string, string?> { ["ATTN_DEVICE"] = "cpu" },
            "run", Path.Combine(root, "notebooks", "00-start-here.ipynb"), "--profile", "quick", "--out", output);
        Assert.True(code == 0, text);
        var site = Path.Combine(output, "site");
        var report = await SiteAssertions.AssertPageDrawsOffline(Path.Combine(site, "00-start-here.html"), Path.Combine(output, "00-start-here.png"));
        Assert.Equal(4, report.Charts);                      // two heatmaps, the temperature slider, the mask slider
        Assert.True(report.MathElements >= 2, $"{report.MathElements} math elements");
        Assert.Contains("a-first-attention", report.HeadingIds);
        await SiteAssertions.AssertIndexLinksTo(Path.Combine(site, "index.html"), "00-start-here.html");
    }
}
