using System.Text.Json.Nodes;

namespace AttnNotebooks.Runner.Tests;

/// <summary>
/// The run command on real notebooks written for it (Notebooks/), executed as a user runs it: a separate process.
/// Each test copies the notebooks to a fresh folder, so sources can be checked for being left alone.
/// </summary>
public class RunCommandTests
{
    static readonly string Sources = Path.Combine(AppContext.BaseDirectory, "Notebooks");

    sealed class Workspace : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("attn-runner-tests-").FullName;
        public string Notebooks => Path.Combine(Root, "nb");
        public string Out => Path.Combine(Root, "out");
        public Workspace()
        {
            foreach (var f in Directory.EnumerateFiles(Sources, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(Notebooks, Path.GetRelativePath(Sources, f));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(f, target);
            }
            Directory.CreateDirectory(Path.Combine(Notebooks, "lib"));
            File.Copy(Path.Combine(AppContext.BaseDirectory, "System.CommandLine.dll"), Path.Combine(Notebooks, "lib", "System.CommandLine.dll"));
        }
        public string Nb(string name) => Path.Combine(Notebooks, name);
        public JsonObject Executed(string name) => JsonNode.Parse(File.ReadAllText(Path.Combine(Out, "notebooks", name)))!.AsObject();
        public void Dispose() { try { Directory.Delete(Root, true); } catch (IOException) { } }
    }

    static (int Code, string Output) Run(Workspace w, params string[] args) =>
        RunnerProcess.Run(new Dictionary<string, string?> { ["ATTN_DEVICE"] = "cpu" }, ["run", .. args, "--out", w.Out, "--no-site"]);

    static JsonArray Cells(JsonObject nb) => nb["cells"]!.AsArray();
    static JsonArray Outputs(JsonObject nb, int cell) => Cells(nb)[cell - 1]!["outputs"]!.AsArray();
    static string Text(JsonNode? multiline) => multiline switch { JsonArray a => string.Concat(a.Select(x => x!.GetValue<string>())), JsonValue v => v.GetValue<string>(), _ => "" };

    /// <summary>
    /// The skeleton of a code cell's outputs, as the .NET Interactive kernel writes them: output type, then the stream
    /// name or the mime types of the bundle.
    /// </summary>
    static string[] Shape(JsonObject nb, int cell) => Outputs(nb, cell).Select(o =>
    {
        var type = o!["output_type"]!.GetValue<string>();
        return type switch
        {
            "stream" => $"stream:{o["name"]}",
            "display_data" or "execute_result" => $"{type}:{string.Join("+", o["data"]!.AsObject().Select(kv => kv.Key).Order())}",
            _ => type,
        };
    }).ToArray();

    [Fact]
    public void Every_directive_works()
    {
        using var w = new Workspace();
        var (code, output) = Run(w, w.Nb("directives.ipynb"));
        Assert.True(code == 0, output);
        var nb = w.Executed("directives.ipynb");
        Assert.Equal("TorchSharp\n", Text(Outputs(nb, 2)[0]!["text"]));
        Assert.Equal("hello, runner", Text(Outputs(nb, 3)[0]!["data"]!["text/plain"]));
        Assert.Equal("made from a #r path", Text(Outputs(nb, 4)[0]!["data"]!["text/plain"]));
        Assert.Empty(Outputs(nb, 5));                       // #!markdown: not run
        Assert.Null(Cells(nb)[4]!["execution_count"]?.GetValue<int?>());
        Assert.Equal("1,4,9,16", Text(Outputs(nb, 6)[0]!["data"]!["text/plain"]));
        Assert.Equal([1, 2, 3, 4], new[] { 2, 3, 4, 6 }.Select(c => Cells(nb)[c - 1]!["execution_count"]!.GetValue<int>()));
        Assert.EndsWith("1 passed, 0 failed", output.TrimEnd());
    }

    [Fact]
    public void A_notebook_can_pin_the_tokenizer_package_the_kit_loads_checkpoints_with()
    {
        using var w = new Workspace();
        var (code, output) = Run(w, w.Nb("tokenizer.ipynb"));
        Assert.True(code == 0, output);
        Assert.Equal("256,33", Text(Outputs(w.Executed("tokenizer.ipynb"), 2)[0]!["data"]!["text/plain"]));
    }

    [Fact]
    public void Displays_are_written_as_the_kernel_writes_them()
    {
        using var w = new Workspace();
        var (code, output) = Run(w, w.Nb("display.ipynb"));
        Assert.True(code == 0, output);
        var nb = w.Executed("display.ipynb");
        Assert.Equal(["stream:stdout"], Shape(nb, 2));
        Assert.Equal(["display_data:text/html+text/plain", "display_data:text/html+text/plain", "display_data:text/plain"], Shape(nb, 3));
        Assert.Equal(["execute_result:text/html+text/plain"], Shape(nb, 4));
        Assert.Equal(["execute_result:text/html+text/plain"], Shape(nb, 5));
        Assert.Equal(["display_data:text/plain", "stream:stdout", "stream:stderr"], Shape(nb, 6));
        Assert.Equal(["stream:stdout"], Shape(nb, 7));

        var smallTensor = Text(Outputs(nb, 3)[0]!["data"]!["text/html"]);
        Assert.Contains("Tensor (2, 2) Float32 on cpu", smallTensor);
        Assert.Contains("<table", smallTensor);
        Assert.Contains("class=\"attn-chart\"", smallTensor);           // a heatmap for a small 2-D tensor
        var bigTensor = Text(Outputs(nb, 3)[1]!["data"]!["text/html"]);
        Assert.Contains("min 0, max 999, mean 499.5", bigTensor);        // summary, no table for 1000 values
        Assert.DoesNotContain("<table", bigTensor);
        Assert.Contains("Plotly.newPlot", Text(Outputs(nb, 4)[0]!["data"]!["text/html"]));
        Assert.Equal("Plotly chart: 1 trace (scatter)", Text(Outputs(nb, 4)[0]!["data"]!["text/plain"]));
        Assert.Contains("<th>name</th>", Text(Outputs(nb, 5)[0]!["data"]!["text/html"]));
        Assert.Contains("3 rows × 2 columns", Text(Outputs(nb, 5)[0]!["data"]!["text/html"]));
        Assert.Equal("2", Text(Outputs(nb, 6)[0]!["data"]!["text/plain"]));   // Update replaced the displayed 1
        Assert.Equal(4, Outputs(nb, 4)[0]!["execution_count"]!.GetValue<int>() + 1); // execute_result carries its cell's count
    }

    [Theory]
    [InlineData("compile-error.ipynb", "compile-error.ipynb, cell 2, line 3: CS0029", 2)]
    [InlineData("exception.ipynb", "exception.ipynb, cell 2, line 2: InvalidOperationException: the cell failed on purpose", 2)]
    [InlineData("unknown-package.ipynb", "cell 1, line 1: #r \"nuget: Newtonsoft.Json\": the runner cannot download packages and does not ship Newtonsoft.Json; it has TorchSharp", 1)]
    [InlineData("wrong-version.ipynb", "the runner ships Plotly.NET 6.0.0, not 5.0.0", 1)]
    [InlineData("fsharp-cell.ipynb", "cell 2, line 1: the cell is in the 'fsharp' kernel; the runner runs C# cells only", 2)]
    [InlineData("magic.ipynb", "the magic command #!time is not supported by the runner", 1)]
    public void A_failing_cell_stops_the_notebook_and_is_reported_with_cell_and_line(string name, string message, int failingCell)
    {
        using var w = new Workspace();
        var (code, output) = Run(w, w.Nb(name));
        Assert.Equal(1, code);
        Assert.Contains("FAIL " + name, output);
        Assert.Contains(message, output.ReplaceLineEndings(" ").Replace("  ", " "));
        Assert.EndsWith("0 passed, 1 failed", output.TrimEnd());
        var nb = w.Executed(name);
        Assert.Equal("error", Outputs(nb, failingCell).Last()!["output_type"]!.GetValue<string>());
        foreach (var later in Cells(nb).Skip(failingCell).Where(c => c!["cell_type"]!.GetValue<string>() == "code"))
            Assert.Empty(later!["outputs"]!.AsArray());
    }

    [Fact]
    public void A_runaway_cell_is_stopped_at_its_time_limit_and_earlier_outputs_stay()
    {
        using var w = new Workspace();
        var started = DateTime.UtcNow;
        var (code, output) = Run(w, w.Nb("timeout.ipynb"), "--cell-timeout", "10");
        Assert.Equal(1, code);
        Assert.Contains("cell 2 ran longer than 10 s and was stopped", output);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(60), "the run should end soon after the limit");
        var nb = w.Executed("timeout.ipynb");
        Assert.Equal("first cell ran\n", Text(Outputs(nb, 1)[0]!["text"]));
        Assert.Equal("TimeoutError", Outputs(nb, 2)[0]!["ename"]!.GetValue<string>());
    }

    [Fact]
    public void The_run_goes_on_after_a_failed_notebook_and_sums_up()
    {
        using var w = new Workspace();
        var junit = Path.Combine(w.Root, "junit.xml");
        var (code, output) = Run(w, w.Nb("exception.ipynb"), w.Nb("passes.ipynb"), "--junit", junit);
        Assert.Equal(1, code);
        Assert.Contains("PASS passes.ipynb", output);
        Assert.EndsWith("1 passed, 1 failed", output.TrimEnd());
        var xml = System.Xml.Linq.XDocument.Load(junit);
        var cases = xml.Descendants("testcase").ToList();
        Assert.Equal(["exception.ipynb", "passes.ipynb"], cases.Select(c => c.Attribute("name")!.Value));
        Assert.NotNull(cases[0].Element("failure"));
        Assert.Null(cases[1].Element("failure"));
    }

    [Fact]
    public void Sources_are_never_written_unless_in_place_and_then_only_whole_and_when_passed()
    {
        using var w = new Workspace();
        var passing = w.Nb("passes.ipynb");
        var failing = w.Nb("exception.ipynb");
        var (before, beforeFailing) = (File.ReadAllBytes(passing), File.ReadAllBytes(failing));
        Run(w, passing, failing);
        Assert.Equal(before, File.ReadAllBytes(passing));

        Run(w, passing, failing, "--in-place");
        Assert.Equal(beforeFailing, File.ReadAllBytes(failing));        // a failed run leaves the source as it was
        var written = JsonNode.Parse(File.ReadAllText(passing))!.AsObject();
        var original = JsonNode.Parse(System.Text.Encoding.UTF8.GetString(before))!.AsObject();
        Assert.Equal("hello\n", Text(Outputs(written, 2)[0]!["text"]));
        // nothing the user wrote is lost: the same cells, sources and metadata
        Assert.Equal(original["metadata"]!.ToJsonString(), written["metadata"]!.ToJsonString());
        Assert.Equal(Cells(original).Select(c => Text(c!["source"])), Cells(written).Select(c => Text(c!["source"])));
        Assert.Contains("ü ∑ 𝛼", File.ReadAllText(passing));
        Assert.Empty(Directory.EnumerateFiles(w.Notebooks, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void A_missing_path_is_a_clear_error()
    {
        using var w = new Workspace();
        var (code, output) = Run(w, Path.Combine(w.Root, "nope.ipynb"));
        Assert.NotEqual(0, code);
        Assert.Contains("no such notebook or folder", output);
    }
}
