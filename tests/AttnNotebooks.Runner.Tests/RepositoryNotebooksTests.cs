namespace AttnNotebooks.Runner.Tests;

/// <summary>Every notebook in the repository's notebooks/ folder runs headless with the quick profile (this is how CI runs them).</summary>
public class RepositoryNotebooksTests
{
    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AttnNotebooks.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the tests do not run inside the repository");
    }

    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(Path.Combine(RepositoryRoot(), "notebooks"), "*.ipynb").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Runs_headless_with_the_quick_profile(string notebook)
    {
        var root = RepositoryRoot();
        var output = Directory.CreateTempSubdirectory("attn-notebooks-").FullName;
        try
        {
            var (code, text) = RunnerProcess.Run(new Dictionary<string, string?> { ["ATTN_DEVICE"] = Environment.GetEnvironmentVariable("ATTN_DEVICE") ?? "cpu" },
                "run", Path.Combine(root, "notebooks", notebook), "--profile", "quick", "--out", output, "--no-site");
            Assert.True(code == 0, text);
            Assert.EndsWith("1 passed, 0 failed", text.TrimEnd());
            Assert.True(File.Exists(Path.Combine(output, "notebooks", notebook)));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public void Notebooks_are_committed_without_outputs()
    {
        foreach (var f in Directory.EnumerateFiles(Path.Combine(RepositoryRoot(), "notebooks"), "*.ipynb"))
        {
            var nb = AttnNotebooks.Runner.Notebooks.Notebook.Load(f);
            Assert.All(nb.Cells.Where(c => c.CellType == "code"), c =>
            {
                Assert.Empty(c.Outputs);
                Assert.Null(c.ExecutionCount);
                Assert.Equal("csharp", c.Metadata["polyglot_notebook"]?["kernelName"]?.GetValue<string>());
            });
            Assert.Equal(".net-csharp", nb.Metadata["kernelspec"]?["name"]?.GetValue<string>());
            Assert.Equal("csharp", nb.Metadata["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"]?.GetValue<string>());
        }
    }
}
