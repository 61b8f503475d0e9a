using Microsoft.Playwright;

namespace AttnNotebooks.Runner.Tests.Browser;

/// <summary>
/// Debian's own Chromium (the <c>chromium</c> package), driven by Playwright for .NET through the driver its NuGet package
/// ships (<c>.playwright/</c> in the build output). No browser is ever downloaded: Playwright is pointed at the system
/// executable, with a fresh profile, and with every background network feature of the browser turned off.
/// </summary>
internal sealed class SystemChromium : IAsyncDisposable
{
    /// <summary>The flags the browser starts with.</summary>
    public static readonly string[] Args =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ];

    /// <summary>The browser executable: <c>ATTN_CHROMIUM</c>, else Debian's <c>/usr/bin/chromium</c>; null when there is none.</summary>
    public static string? ExecutablePath { get; } = Find();

    private readonly IPlaywright _playwright;
    private readonly string _profile;

    /// <summary>The browser's (only) context: listen for requests here, open pages here.</summary>
    public IBrowserContext Context { get; }

    private SystemChromium(IPlaywright playwright, IBrowserContext context, string profile)
    {
        _playwright = playwright;
        Context = context;
        _profile = profile;
    }

    /// <summary>Starts the browser, or skips the calling test, saying how to install it, when it is absent.</summary>
    public static async Task<SystemChromium> LaunchAsync()
    {
        if (ExecutablePath is null)
            Assert.Skip("no system Chromium: install Debian's package (apt-get install chromium) or set ATTN_CHROMIUM to a Chromium executable; .ci/run installs it");
        var playwright = await Playwright.CreateAsync();
        var profile = Directory.CreateTempSubdirectory("attn-chromium-profile-").FullName;
        try
        {
            var context = await playwright.Chromium.LaunchPersistentContextAsync(profile, new BrowserTypeLaunchPersistentContextOptions
            {
                ExecutablePath = ExecutablePath,
                Headless = true,
                Args = Args,
                ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
                ServiceWorkers = ServiceWorkerPolicy.Block,
                Timeout = 60_000,
            });
            return new SystemChromium(playwright, context, profile);
        }
        catch
        {
            playwright.Dispose();
            TryDelete(profile);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try { await Context.CloseAsync(); }
        finally
        {
            _playwright.Dispose();
            TryDelete(_profile);
        }
    }

    private static string? Find()
    {
        var configured = Environment.GetEnvironmentVariable("ATTN_CHROMIUM");
        if (!string.IsNullOrWhiteSpace(configured)) return File.Exists(configured) ? configured : null;
        foreach (var candidate in new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" })
            if (File.Exists(candidate)) return candidate;
        return null;
    }

    private static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
