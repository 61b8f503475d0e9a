using System.Text.Json;
using Microsoft.Playwright;

namespace AttnNotebooks.Runner.Tests.Browser;

/// <summary>What a page showed in the browser.</summary>
internal sealed record PageReport(int Charts, int MathElements, IReadOnlyList<string> HeadingIds, IReadOnlyList<string> Requests, string PlotlyVersion);

/// <summary>
/// Assertions on a written site page in a real browser (system Chromium). Reusable for any page of the site: the sample
/// notebook's in the tests here, and the real notebooks' once they run.
/// </summary>
internal static class SiteAssertions
{
    // every chart element holds a plotly-drawn SVG (or plotly.js is missing, which is reported, so there is no point waiting)
    private const string AllChartsDrawn = "() => !window.Plotly || [...document.querySelectorAll('.attn-chart')].every(e => e.querySelector('.main-svg'))";

    private const string Inspect = """
        () => {
          const size = e => { const r = e.getBoundingClientRect(); return { w: r.width, h: r.height }; };
          return {
            charts: [...document.querySelectorAll('.attn-chart')].map(e => ({ id: e.id, drawn: !!e.querySelector('.main-svg'), ...size(e) })),
            math: [...document.querySelectorAll('math')].map(m => ({ tex: (m.querySelector('annotation') || {}).textContent || '', display: getComputedStyle(m).display, ...size(m) })),
            merrors: [...document.querySelectorAll('merror')].map(e => e.textContent),
            headings: [...document.querySelectorAll('.cell.markdown :is(h1, h2, h3, h4, h5, h6)')].map(h => h.id),
            fragments: [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href').slice(1)),
            missingTargets: [...document.querySelectorAll('a[href^="#"]')].map(a => decodeURIComponent(a.getAttribute('href').slice(1))).filter(id => id && !document.getElementById(id)),
            resources: performance.getEntriesByType('resource').map(r => r.name),
            plotly: window.Plotly ? window.Plotly.version : ''
          };
        }
        """;

    /// <summary>
    /// Opens <paramref name="htmlPath"/> through <c>file://</c> and asserts that every <c>.attn-chart</c> holds a plotly
    /// <c>.main-svg</c>; that no JavaScript error happened (page errors and console errors); that the page asked for
    /// nothing but <c>file:</c> and <c>data:</c> URLs (every request is recorded, and any other is blocked); that every
    /// &lt;math&gt; element has a size and no &lt;merror&gt; shows; and that every heading has an id and every
    /// <c>#fragment</c> link has a target. Saves a full-page screenshot when <paramref name="screenshotPath"/> is given.
    /// </summary>
    public static async Task<PageReport> AssertPageDrawsOffline(string htmlPath, string? screenshotPath = null)
    {
        Assert.True(File.Exists(htmlPath), $"no page at {htmlPath}");
        await using var browser = await SystemChromium.LaunchAsync();
        var requests = new List<string>();
        var errors = new List<string>();
        browser.Context.Request += (_, r) => { lock (requests) requests.Add(r.Url); };
        await browser.Context.RouteAsync("**/*", async route =>
        {
            if (IsLocal(route.Request.Url)) await route.ContinueAsync();
            else await route.AbortAsync("internetdisconnected");
        });
        var page = await browser.Context.NewPageAsync();
        page.Console += (_, m) => { if (m.Type == "error") lock (errors) errors.Add($"console error: {m.Text} ({m.Location})"); };
        page.PageError += (_, e) => { lock (errors) errors.Add("page error: " + e); };
        page.WebSocket += (_, ws) => { lock (requests) requests.Add(ws.Url); };

        var url = new Uri(Path.GetFullPath(htmlPath)).AbsoluteUri;
        await page.GotoAsync(url, new PageGotoOptions { WaitUntil = WaitUntilState.Load, Timeout = 60_000 });
        try
        {
            await page.WaitForFunctionAsync(AllChartsDrawn, null, new PageWaitForFunctionOptions { Timeout = 30_000, PollingInterval = 100 });
        }
        catch (Exception e) when (e is TimeoutException or PlaywrightException)
        {
            // reported below, chart by chart
        }
        try
        {
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle, new PageWaitForLoadStateOptions { Timeout = 10_000 });
        }
        catch (Exception e) when (e is TimeoutException or PlaywrightException)
        {
            // a request that never settles is reported below
        }
        using var info = JsonDocument.Parse((await page.EvaluateAsync(Inspect))!.Value.GetRawText());
        var root = info.RootElement;
        if (screenshotPath is not null) await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshotPath, FullPage = true });

        string[] requested;
        lock (requests) requested = [.. requests];
        var remote = requested.Concat(root.GetProperty("resources").EnumerateArray().Select(r => r.GetString()!)).Where(u => !IsLocal(u)).Distinct().ToList();
        Assert.True(remote.Count == 0, $"{htmlPath} asked the network for: {string.Join(", ", remote)}");
        lock (errors) Assert.True(errors.Count == 0, $"{htmlPath} had JavaScript errors:\n{string.Join("\n", errors)}");

        Assert.False(string.IsNullOrEmpty(root.GetProperty("plotly").GetString()), "window.Plotly is not defined: the local plotly.js did not load");
        var charts = root.GetProperty("charts").EnumerateArray().ToList();
        foreach (var chart in charts)
        {
            var id = chart.GetProperty("id").GetString();
            Assert.True(chart.GetProperty("drawn").GetBoolean(), $"chart {id} was not drawn (no .main-svg inside it)");
            Assert.True(chart.GetProperty("w").GetDouble() > 0 && chart.GetProperty("h").GetDouble() > 0, $"chart {id} has no size");
        }
        var math = root.GetProperty("math").EnumerateArray().ToList();
        foreach (var m in math)
        {
            var tex = m.GetProperty("tex").GetString();
            Assert.True(m.GetProperty("w").GetDouble() > 0 && m.GetProperty("h").GetDouble() > 0, $"math {tex} has no rendered size");
            Assert.Contains("math", m.GetProperty("display").GetString()); // "math" / "block math": laid out as MathML, not as text
        }
        var merrors = root.GetProperty("merrors").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.True(merrors.Count == 0, $"math the converter does not know: {string.Join(", ", merrors)}");
        var headings = root.GetProperty("headings").EnumerateArray().Select(h => h.GetString() ?? "").ToList();
        Assert.All(headings, id => Assert.False(string.IsNullOrEmpty(id), "a heading without an anchor id"));
        Assert.Equal(headings.Count, headings.Distinct().Count());
        var missing = root.GetProperty("missingTargets").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.True(missing.Count == 0, $"links to anchors that are not on the page: {string.Join(", ", missing)}");
        return new PageReport(charts.Count, math.Count, headings, requested, root.GetProperty("plotly").GetString()!);
    }

    /// <summary>Opens the index page and asserts it links to <paramref name="pageHref"/>, and that following the link opens that page.</summary>
    public static async Task AssertIndexLinksTo(string indexPath, string pageHref)
    {
        await using var browser = await SystemChromium.LaunchAsync();
        var page = await browser.Context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync(new Uri(Path.GetFullPath(indexPath)).AbsoluteUri);
        var link = page.Locator($"a[href=\"{pageHref}\"]");
        Assert.True(await link.CountAsync() >= 1, $"the index does not link to {pageHref}");
        await link.First.ClickAsync();
        await page.WaitForLoadStateAsync(LoadState.Load);
        Assert.EndsWith("/" + pageHref, page.Url);
        Assert.Empty(errors);
    }

    private static bool IsLocal(string url) =>
        url.StartsWith("file:", StringComparison.OrdinalIgnoreCase) || url.StartsWith("data:", StringComparison.OrdinalIgnoreCase)
        || url.StartsWith("blob:", StringComparison.OrdinalIgnoreCase) || url.StartsWith("about:", StringComparison.OrdinalIgnoreCase);
}
