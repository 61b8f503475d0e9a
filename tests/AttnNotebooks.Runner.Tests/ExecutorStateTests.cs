using AttnNotebooks.Runner.Execution;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Tests;

/// <summary>The script state across cells, in process, as the kernel keeps it.</summary>
public class ExecutorStateTests
{
    static Notebook Cells(params string[] sources) => Notebook.Parse(
        "{\"nbformat\": 4, \"metadata\": {}, \"cells\": [" +
        string.Join(",", sources.Select(s => "{\"cell_type\": \"code\", \"metadata\": {}, \"outputs\": [], \"source\": " + System.Text.Json.JsonSerializer.Serialize(s) + "}")) + "]}");

    [Fact]
    public async Task A_cell_that_throws_keeps_what_it_declared_before_the_exception()
    {
        var nb = Cells(
            "using System.Globalization;\nvar declared = 41;\nint Twice(int x) => 2 * x;\nthrow new InvalidOperationException(\"on purpose\");",
            "(declared + 1).ToString(CultureInfo.InvariantCulture) + \",\" + Twice(3)");
        var results = await new NotebookExecutor(nb, Path.GetTempPath()) { ContinueOnError = true }.RunAsync((_, _) => { }, TestContext.Current.CancellationToken);
        Assert.False(results[0].Ok);
        Assert.Contains("cell 1, line 4: InvalidOperationException: on purpose", results[0].Error);
        Assert.True(results[1].Ok, results[1].Error);
        Assert.Equal("42,6", string.Concat(nb.Cells[1].Outputs[0]!["data"]!["text/plain"]!.AsArray().Select(x => x!.GetValue<string>())));
    }

    [Fact]
    public async Task A_cell_that_does_not_compile_leaves_the_state_as_it_was()
    {
        var nb = Cells("var a = 1;", "var b = 2;\nint broken = \"text\";", "a + (b is int ? 100 : 0)");
        var results = await new NotebookExecutor(nb, Path.GetTempPath()) { ContinueOnError = true }.RunAsync((_, _) => { }, TestContext.Current.CancellationToken);
        Assert.False(results[1].Ok);
        Assert.False(results[2].Ok);                                 // b was never declared: the cell that failed to compile did not run
        Assert.Contains("CS0103", results[2].Error);
    }
}
