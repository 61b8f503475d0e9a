using AttnKit.Catalog;
using Microsoft.Playwright;

namespace AttnNotebooks.Runner.Tests.Browser;

/// <summary>The catalog page (<c>catalog</c> writes it; <c>run</c> writes it and links it from the index) in a real browser, offline.</summary>
public class CatalogPageTests
{
    /// <summary>Where the last run left its pages and screenshots, to look at by eye.</summary>
    private static readonly string Folder = Path.Combine(Path.GetTempPath(), "attn-catalog-browser-test");
    private static readonly PaperCatalog Catalog = PaperCatalog.Load(Path.Combine(RepositoryNotebooksTests.RepositoryRoot(), PaperCatalog.RelativePath));

    [Fact]
    public async Task The_search_box_and_filters_narrow_the_rows_with_no_network_and_no_errors()
    {
        if (SystemChromium.ExecutablePath is null) Assert.Skip("no system Chromium (apt-get install chromium)");
        var output = Path.Combine(Folder, "command");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        var (code, text) = RunnerProcess.Run(null, "catalog", "--out", output);
        Assert.True(code == 0, text);
        var page = Path.Combine(output, "site", "catalog.html");
        var report = await SiteAssertions.AssertPageDrawsOffline(page, Path.Combine(Folder, "catalog.png"));
        Assert.Equal(1, report.Charts);                                          // the coverage per group

        await using var browser = await SystemChromium.LaunchAsync();
        var errors = new List<string>();
        await browser.Context.RouteAsync("**/*", async route =>
        {
            if (route.Request.Url.StartsWith("file:", StringComparison.Ordinal)) await route.ContinueAsync();
            else { lock (errors) errors.Add("network: " + route.Request.Url); await route.AbortAsync(); }
        });
        var tab = await browser.Context.NewPageAsync();
        tab.PageError += (_, e) => { lock (errors) errors.Add(e); };
        await tab.GotoAsync(new Uri(page).AbsoluteUri);
        var rows = tab.Locator("#catalog-table tbody tr");
        var visible = tab.Locator("#catalog-table tbody tr:not([hidden])");
        Assert.Equal(Catalog.Count, await rows.CountAsync());
        Assert.Equal(Catalog.Count, await visible.CountAsync());
        Assert.Equal($"{Catalog.Count} of {Catalog.Count} papers", await tab.Locator("#catalog-count").TextContentAsync());

        // a word of a title: the rows whose searchable text has it, and the GQA paper among them
        await tab.Locator("#catalog-search").FillAsync("multi-query");
        int shown = await visible.CountAsync();
        Assert.InRange(shown, 1, Catalog.Count - 1);
        Assert.Equal(1, await tab.Locator("#paper-gqa:not([hidden])").CountAsync());
        foreach (var searchable in await visible.EvaluateAllAsync<string[]>("rows => rows.map(r => r.getAttribute('data-search'))"))
            Assert.Contains("multi-query", searchable);
        Assert.Equal($"{shown} of {Catalog.Count} papers", await tab.Locator("#catalog-count").TextContentAsync());

        // a status filter: exactly the papers with that status, counted from the CSV
        await tab.Locator("#catalog-search").FillAsync("");
        await tab.Locator("#filter-status").SelectOptionAsync("library only");
        Assert.Equal(Catalog.Count(p => p.Status == CoverageStatus.LibraryOnly), await visible.CountAsync());
        await tab.Locator("#filter-status").SelectOptionAsync("");
        await tab.Locator("#filter-group").SelectOptionAsync("F2");
        await tab.Locator("#filter-class").SelectOptionAsync("family");
        Assert.Equal(Catalog.Count(p => p.Group == "F2" && p.Class == PaperClass.Family), await visible.CountAsync());

        // the covered paper links to its notebook section
        var link = tab.Locator("#paper-transformer a[href='00-start-here.html#a-first-attention']");
        Assert.Equal(1, await link.CountAsync());

        // catalog.html#q=… opens with that search
        await tab.GotoAsync(new Uri(page).AbsoluteUri + "#q=key%2Fvalue heads");
        await tab.ReloadAsync();
        Assert.Equal("key/value heads", await tab.Locator("#catalog-search").InputValueAsync());
        Assert.InRange(await visible.CountAsync(), 1, Catalog.Count - 1);
        lock (errors) Assert.Empty(errors);
    }

    [Fact]
    public async Task Run_links_the_catalog_from_the_index_and_the_catalog_notebook_draws_its_charts()
    {
        if (SystemChromium.ExecutablePath is null) Assert.Skip("no system Chromium (apt-get install chromium)");
        var root = RepositoryNotebooksTests.RepositoryRoot();
        var output = Path.Combine(Folder, "run");
        if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        var (code, text) = RunnerProcess.Run(new Dictionary<string, string?> { ["ATTN_DEVICE"] = "cpu" },
            "run", Path.Combine(root, "notebooks", "99-catalog.ipynb"), "--profile", "quick", "--out", output);
        Assert.True(code == 0, text);
        var site = Path.Combine(output, "site");
        var report = await SiteAssertions.AssertPageDrawsOffline(Path.Combine(site, "99-catalog.html"), Path.Combine(Folder, "99-catalog.png"));
        Assert.Equal(2, report.Charts);                                          // family+cache and phenomenon+system per group
        Assert.Contains("coverage-per-group", report.HeadingIds);
        await SiteAssertions.AssertIndexLinksTo(Path.Combine(site, "index.html"), "catalog.html");
        await SiteAssertions.AssertPageDrawsOffline(Path.Combine(site, "catalog.html"));
    }
}
