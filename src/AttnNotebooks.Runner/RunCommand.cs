using System.CommandLine;
using AttnKit.Catalog;
using AttnNotebooks.Runner.Execution;
using AttnNotebooks.Runner.Notebooks;
using AttnNotebooks.Runner.Site;
using Spectre.Console;

namespace AttnNotebooks.Runner;

/// <summary>
/// <c>run [NOTEBOOK|FOLDER...]</c>: executes notebooks headless, each in its own worker process, and writes the executed
/// notebooks and the site. The last line is "N passed, N failed"; the exit code is non-zero when any failed.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = "notebooks or folders of notebooks (default: notebooks)", Arity = ArgumentArity.ZeroOrMore };
        var output = new Option<string>("--out") { Description = "where executed notebooks (DIR/notebooks) and the site (DIR/site) go", DefaultValueFactory = _ => "results" };
        var profile = new Option<string?>("--profile") { Description = "quick (CPU, CI) or full (GPU); default: ATTN_PROFILE, else by device" };
        profile.AcceptOnlyFromAmong("quick", "full");
        var device = new Option<string?>("--device") { Description = "auto, cpu or cuda; default: ATTN_DEVICE, else auto" };
        device.AcceptOnlyFromAmong("auto", "cpu", "cuda");
        var cellTimeout = new Option<double>("--cell-timeout") { Description = "seconds a cell may run", DefaultValueFactory = _ => 600 };
        var notebookTimeout = new Option<double>("--notebook-timeout") { Description = "seconds a notebook may run", DefaultValueFactory = _ => 1800 };
        var junit = new Option<string?>("--junit") { Description = "write JUnit XML here (one test case per notebook)" };
        var inPlace = new Option<bool>("--in-place") { Description = "also write each notebook that passed back over its source, atomically" };
        var noSite = new Option<bool>("--no-site") { Description = "do not write the site" };
        var command = new Command("run", "Execute notebooks headless; write executed notebooks and the HTML site.")
        {
            paths, output, profile, device, cellTimeout, notebookTimeout, junit, inPlace, noSite,
        };
        command.SetAction((parse, cancel) => RunAsync(
            parse.GetValue(paths) ?? [], parse.GetValue(output)!, parse.GetValue(profile), parse.GetValue(device),
            parse.GetValue(cellTimeout), parse.GetValue(notebookTimeout), parse.GetValue(junit), parse.GetValue(inPlace), !parse.GetValue(noSite), cancel));
        return command;
    }

    /// <summary>The notebooks under the given paths: files as given, folders searched (sorted; checkpoints and hidden folders skipped).</summary>
    public static IReadOnlyList<(string Path, string Name)> Find(IEnumerable<string> paths)
    {
        var list = new List<(string, string)>();
        foreach (var p in paths)
        {
            if (File.Exists(p)) { list.Add((p, Path.GetFileName(p))); continue; }
            if (!Directory.Exists(p)) throw new ArgumentException($"no such notebook or folder: {p}");
            foreach (var f in Directory.EnumerateFiles(p, "*.ipynb", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                var rel = Path.GetRelativePath(p, f);
                if (rel.Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.') || part == "bin" || part == "obj")) continue;
                list.Add((f, rel));
            }
        }
        return list;
    }

    private static async Task<int> RunAsync(string[] paths, string outDir, string? profile, string? device, double cellTimeout, double notebookTimeout,
        string? junit, bool inPlace, bool site, CancellationToken cancel)
    {
        var console = AnsiConsole.Console;
        if (cellTimeout <= 0 || notebookTimeout <= 0) { console.WriteLine("run: --cell-timeout and --notebook-timeout must be positive"); return 2; }
        IReadOnlyList<(string Path, string Name)> notebooks;
        try { notebooks = Find(paths.Length == 0 ? ["notebooks"] : paths); }
        catch (ArgumentException e) { console.WriteLine("run: " + e.Message); return 2; }
        if (notebooks.Count == 0) { console.WriteLine("run: no notebooks found"); return 2; }

        var env = new Dictionary<string, string>();
        if (device is not null) env["ATTN_DEVICE"] = device;
        if (profile is not null) env["ATTN_PROFILE"] = profile;
        var limits = new RunLimits(TimeSpan.FromSeconds(cellTimeout), TimeSpan.FromSeconds(notebookTimeout), env);

        var outcomes = new List<NotebookOutcome>();
        bool live = console.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        for (int i = 0; i < notebooks.Count; i++)
        {
            var (path, name) = notebooks[i];
            string label = $"[{i + 1}/{notebooks.Count}] {name}";
            NotebookOutcome outcome;
            if (live)
            {
                outcome = await console.Status().StartAsync(label, async ctx =>
                    await NotebookRun.RunAsync(path, name, limits, (cell, cells, state) => ctx.Status($"{Markup.Escape(label)}: {cell}/{cells} code cells ({state})"), cancel));
            }
            else
            {
                console.WriteLine($"{label}: running");
                outcome = await NotebookRun.RunAsync(path, name, limits, (cell, cells, state) => console.WriteLine($"{label}: {cell}/{cells} code cells ({state})"), cancel);
            }
            outcomes.Add(outcome);
            if (outcome.Executed is not null)
            {
                outcome.Executed.Save(Path.Combine(outDir, "notebooks", name));
                if (inPlace && outcome.Passed) outcome.Executed.Save(path);
            }
            console.WriteLine(outcome.Passed
                ? $"PASS {name} ({outcome.Cells} code cells, {outcome.Seconds:0.0} s)"
                : $"FAIL {outcome.Error}");
        }

        if (junit is not null) JUnitWriter.Write(junit, outcomes);
        if (site)
        {
            var siteDir = Path.Combine(outDir, "site");
            var written = outcomes.Where(o => o.Executed is not null).ToList();
            var links = WriteCatalogPage(siteDir, console);
            var result = SiteWriter.Write(written.Select(o => (o.Name.Replace('\\', '/'), o.Executed!)).ToList(), siteDir, new SiteOptions
            {
                Links = links,
                Statuses = written.ToDictionary(o => o.Name.Replace('\\', '/'), o => new NotebookStatus(o.Passed, o.Seconds, o.Error)),
                Footer = $"Executed by the AttnNotebooks runner on {DateTime.Now:yyyy-MM-dd HH:mm}{(device is null ? "" : $", device {device}")}{(profile is null ? "" : $", profile {profile}")}.",
            });
            console.WriteLine($"site: open {Path.GetFullPath(result.IndexPath)}");
        }
        int passed = outcomes.Count(o => o.Passed), failed = outcomes.Count - passed;
        console.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>The paper catalog's page in the site, when <c>data/papers.csv</c> is found (see <see cref="PaperCatalog.TryFind"/>); the index then links to it.</summary>
    private static IReadOnlyList<SiteLink> WriteCatalogPage(string siteDir, IAnsiConsole console)
    {
        if (PaperCatalog.TryFind() is not { } path) return [];
        try
        {
            var catalog = PaperCatalog.Load(path);
            CatalogPage.Write(catalog, siteDir);
            return [CatalogPage.Link(catalog)];
        }
        catch (ArgumentException e)
        {
            console.WriteLine($"run: the site has no catalog page: {e.Message}");
            return [];
        }
    }
}
