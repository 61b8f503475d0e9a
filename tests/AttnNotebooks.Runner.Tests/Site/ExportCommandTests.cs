namespace AttnNotebooks.Runner.Tests.Site;

/// <summary><c>export</c> as a user runs it: a separate process, its exit code and output, the files it writes.</summary>
public sealed class ExportCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("attn-export-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Notebooks()
    {
        var folder = Path.Combine(_dir, "notebooks");
        Directory.CreateDirectory(Path.Combine(folder, ".ipynb_checkpoints"));
        File.WriteAllText(Path.Combine(folder, "01-sample.ipynb"), SampleNotebook.Json());
        File.WriteAllText(Path.Combine(folder, ".ipynb_checkpoints", "01-sample-checkpoint.ipynb"), SampleNotebook.Json());
        return folder;
    }

    [Fact]
    public void Export_site_from_a_folder_writes_the_site()
    {
        var output = Path.Combine(_dir, "site");
        var (code, text) = RunnerProcess.Run(null, "export", "--format", "site", "--out", output, Notebooks());
        Assert.True(code == 0, text);
        Assert.True(File.Exists(Path.Combine(output, "index.html")), text);
        Assert.True(File.Exists(Path.Combine(output, "01-sample.html")), text);
        Assert.True(File.Exists(Path.Combine(output, "assets", "plotly-2.28.0.min.js")), text);
        Assert.False(Directory.Exists(Path.Combine(output, ".ipynb_checkpoints")), "checkpoints are not exported");
        Assert.Contains("site written, open", text);
    }

    [Fact]
    public void Export_site_from_a_file_names_the_page_after_it()
    {
        var output = Path.Combine(_dir, "one");
        var (code, text) = RunnerProcess.Run(null, "export", "--format", "site", "--out", output, Path.Combine(Notebooks(), "01-sample.ipynb"));
        Assert.True(code == 0, text);
        Assert.True(File.Exists(Path.Combine(output, "01-sample.html")), text);
    }

    [Fact]
    public void A_missing_notebook_is_a_clear_error()
    {
        var (code, text) = RunnerProcess.Run(null, "export", "--format", "site", "--out", Path.Combine(_dir, "x"), Path.Combine(_dir, "nope.ipynb"));
        Assert.Equal(2, code);
        Assert.Contains("no such notebook or folder", text);
    }

    [Fact]
    public void A_notebook_that_is_not_json_fails_the_export()
    {
        var bad = Path.Combine(_dir, "bad.ipynb");
        File.WriteAllText(bad, "{ not json");
        var (code, text) = RunnerProcess.Run(null, "export", "--format", "site", "--out", Path.Combine(_dir, "x"), bad);
        Assert.Equal(1, code);
        Assert.Contains("not valid JSON", text);
    }

    [Fact]
    public void An_unknown_format_is_refused()
    {
        var (code, text) = RunnerProcess.Run(null, "export", "--format", "pdf", Notebooks());
        Assert.NotEqual(0, code);
        Assert.Contains("pdf", text);
    }
}
