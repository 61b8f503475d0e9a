using AttnNotebooks.Runner.Export;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Tests;

public class FileBasedAppTests
{
    static string Kit => Path.Combine(RepositoryNotebooksTests.RepositoryRoot(), "src", "AttnKit", "AttnKit.csproj");

    [Fact]
    public void Directives_values_usings_and_types_are_placed_as_csharp_requires()
    {
        var nb = Notebook.Parse("""
            {"nbformat": 4, "metadata": {}, "cells": [
              {"cell_type": "markdown", "metadata": {}, "source": "# Title\nSome text."},
              {"cell_type": "code", "metadata": {}, "outputs": [], "source": "#r \"nuget: Plotly.NET, 6.0.0\"\n#r \"../src/AttnKit/bin/Debug/net10.0/AttnKit.dll\"\nusing AttnKit.Core;\nvar p = new Point(1, 2);\nrecord Point(int X, int Y);"},
              {"cell_type": "code", "metadata": {}, "outputs": [], "source": "#!csharp\nusing System.Globalization;\np.X + 1"}
            ]}
            """);
        var root = Path.Combine(Path.GetTempPath(), "attn-export-unit");
        var app = FileBasedApp.Convert(nb, Path.Combine(root, "notebooks", "t.ipynb"), Path.Combine(root, "cs", "t.cs"), Path.Combine(root, "src", "AttnKit", "AttnKit.csproj"));
        var lines = app.Split('\n');
        int Index(string s) => Array.FindIndex(lines, l => l.Contains(s, StringComparison.Ordinal));
        Assert.True(Index("#:package Plotly.NET@6.0.0") > 0);
        Assert.True(Index("#:project ../src/AttnKit/AttnKit.csproj") > 0);
        Assert.True(Index("using System.Globalization;") < Index("var p = new Point(1, 2);"));   // usings first
        Assert.True(Index("using AttnKit.Core;") < Index("var __appDir"));
        Assert.True(Index("record Point(int X, int Y);") > Index("display(p.X + 1);"));        // types last
        Assert.Contains("// # Title", app);
        Assert.Contains("Path.Combine(__appDir, \"../notebooks\")", app);
    }

    [Fact]
    public void The_first_notebook_exported_as_a_file_based_app_runs_with_dotnet_run()
    {
        var (sdkCode, sdks) = RunnerProcess.Exec("dotnet", ["--list-sdks"], null, null, TimeSpan.FromMinutes(1));
        if (sdkCode != 0 || !sdks.Contains("10.", StringComparison.Ordinal)) Assert.Skip("dotnet run of a .cs file needs the .NET 10 SDK; only a runtime is here");
        var source = Path.Combine(RepositoryNotebooksTests.RepositoryRoot(), "notebooks", "00-start-here.ipynb");
        var dir = Directory.CreateTempSubdirectory("attn-export-").FullName;
        try
        {
            var appPath = Path.Combine(dir, "00-start-here.cs");
            File.WriteAllText(appPath, FileBasedApp.Convert(Notebook.Load(source), source, appPath, Kit));
            var (code, output) = RunnerProcess.Exec("dotnet", ["run", "00-start-here.cs"], new Dictionary<string, string?> { ["ATTN_DEVICE"] = "cpu" }, dir, TimeSpan.FromMinutes(8));
            Assert.True(code == 0, output);
            Assert.Contains("AttnKit: device cpu", output);
            Assert.Contains("relative error between the fused path and the reference", output);
            var charts = Directory.GetFiles(Path.Combine(dir, "00-start-here-charts"), "*.html");
            Assert.Equal(4, charts.Length);
            Assert.All(charts, c => Assert.Contains("Plotly.newPlot", File.ReadAllText(c)));
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }
}
