using System.CommandLine;
using AttnNotebooks.Runner.Execution;
using AttnNotebooks.Runner.Export;
using AttnNotebooks.Runner.Notebooks;
using AttnNotebooks.Runner.Site;

namespace AttnNotebooks.Runner;

/// <summary><c>export</c>: turns (already executed) notebooks into an offline HTML site, or into C# file-based apps.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format")
        {
            Description = "site: an offline HTML site (index, one page per notebook, assets); cs: C# file-based apps",
            Required = true,
        };
        format.AcceptOnlyFromAmong("site", "cs");
        var output = new Option<string?>("--out") { Description = "the folder to write (default for site: results/site)" };
        var title = new Option<string>("--title") { Description = "the site's title", DefaultValueFactory = _ => "AttnNotebooks" };
        var inputs = new Argument<string[]>("notebooks")
        {
            Description = "notebook files (.ipynb) or folders of them",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("export", "Export notebooks: --format site writes an offline HTML site from executed notebooks; --format cs writes C# file-based apps.")
        {
            format, output, title, inputs,
        };
        command.SetAction(parse => Run(parse.GetValue(format)!, parse.GetValue(output), parse.GetValue(title)!, parse.GetValue(inputs) ?? []));
        return command;
    }

    public static int Run(string format, string? outDir, string title, string[] inputs)
    {
        List<(string RelativeName, string Path)> files;
        try
        {
            files = Collect(inputs);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"export: {e.Message}");
            return 2;
        }
        if (format == "cs") return FileBasedApps(files, outDir ?? Path.Combine("results", "cs"));
        return Site(files, outDir ?? Path.Combine("results", "site"), title);
    }

    private static int FileBasedApps(List<(string RelativeName, string Path)> files, string outDir)
    {
        int failed = 0;
        foreach (var (name, path) in files)
        {
            try
            {
                var kit = FindKitProject(Path.GetDirectoryName(Path.GetFullPath(path))!)
                          ?? throw new ArgumentException($"{name}: cannot find src/AttnKit/AttnKit.csproj above the notebook or the current folder");
                var app = Path.Combine(outDir, Path.ChangeExtension(name, ".cs"));
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(app))!);
                File.WriteAllText(app, FileBasedApp.Convert(Notebook.Load(path), path, app, kit));
                Console.WriteLine($"wrote {app}: run it with dotnet run {Path.GetFileName(app)} (in {Path.GetDirectoryName(Path.GetFullPath(app))})");
            }
            catch (Exception e) when (e is ArgumentException or DirectiveException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"export: {name}: {e.Message}");
                failed++;
            }
        }
        return failed == 0 ? 0 : 1;
    }

    /// <summary>The kit's project, searched from <paramref name="start"/> upwards, then from the current folder upwards.</summary>
    internal static string? FindKitProject(string start)
    {
        foreach (var origin in new[] { start, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(origin); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "src", "AttnKit", "AttnKit.csproj");
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    private static int Site(List<(string RelativeName, string Path)> files, string outDir, string title)
    {
        var notebooks = new List<(string, Notebook)>();
        int failed = 0;
        foreach (var (name, path) in files)
        {
            try
            {
                notebooks.Add((name, Notebook.Load(path)));
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"export: {e.Message}");
                failed++;
            }
        }
        if (notebooks.Count == 0)
        {
            Console.Error.WriteLine("export: no notebook could be read");
            return 1;
        }
        SiteResult result;
        try
        {
            result = SiteWriter.Write(notebooks, outDir, new SiteOptions { Title = title });
        }
        catch (Exception e) when (e is ArgumentException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"export: {e.Message}");
            return 1;
        }
        foreach (var page in result.Pages) Console.WriteLine($"wrote {Path.GetRelativePath(Environment.CurrentDirectory, page)}");
        Console.WriteLine($"export: site written, open {result.IndexPath}");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>
    /// The notebooks named on the command line: files as given, folders as their <c>*.ipynb</c> files (sorted, checkpoints
    /// skipped). Each gets its site name: a file's own name, or its path below the folder named.
    /// </summary>
    public static List<(string RelativeName, string Path)> Collect(IEnumerable<string> inputs)
    {
        var files = new List<(string, string)>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = Directory.EnumerateFiles(input, "*.ipynb", SearchOption.AllDirectories)
                    .Where(f => !Path.GetRelativePath(input, f).Replace('\\', '/').Split('/').Any(p => p.StartsWith('.')))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (found.Count == 0) throw new ArgumentException($"no .ipynb notebooks in {input}");
                files.AddRange(found.Select(f => (Path.GetRelativePath(input, f).Replace('\\', '/'), f)));
            }
            else if (File.Exists(input))
            {
                files.Add((Path.GetFileName(input), input));
            }
            else
            {
                throw new ArgumentException($"no such notebook or folder: {input}");
            }
        }
        var twice = files.GroupBy(f => f.Item1, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new ArgumentException($"two notebooks are both named {twice.Key}: {string.Join(", ", twice.Select(t => t.Item2))}");
        return files;
    }
}
