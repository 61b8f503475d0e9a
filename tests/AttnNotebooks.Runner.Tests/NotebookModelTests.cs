using AttnNotebooks.Runner.Execution;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Tests;

public class NotebookModelTests
{
    const string Json = """
        {
         "nbformat": 4, "nbformat_minor": 5,
         "metadata": { "kernelspec": { "language": "C#", "name": ".net-csharp" }, "custom": { "kept": [1, 2] } },
         "cells": [
          { "cell_type": "markdown", "id": "m1", "metadata": {}, "source": "# Title ü 𝛼 <b>", "attachments": { "a.png": { "image/png": "AAAA" } } },
          { "cell_type": "code", "id": "c1", "metadata": { "dotnet_interactive": { "language": "fsharp" } }, "execution_count": 3, "outputs": [ { "output_type": "stream", "name": "stdout", "text": ["old\n"] } ], "source": ["let x = 1\n", "x"] },
          { "cell_type": "code", "metadata": { "polyglot_notebook": { "kernelName": "csharp" }, "tags": ["keep"] }, "outputs": [], "source": "var y = 2;" }
         ]
        }
        """;

    [Fact]
    public void Reads_kernels_sources_and_keeps_everything_it_does_not_know()
    {
        var nb = Notebook.Parse(Json, "t");
        Assert.Equal("csharp", nb.DefaultKernel);
        Assert.Equal(["markdown", "code", "code"], nb.Cells.Select(c => c.CellType));
        Assert.Equal("fsharp", nb.Cells[1].Kernel);                 // the legacy dotnet_interactive.language
        Assert.Equal("csharp", nb.Cells[2].Kernel);
        Assert.Equal("let x = 1\nx", nb.Cells[1].Source);
        nb.Cells[1].ClearOutputs();
        nb.Cells[1].AddStream("stdout", "a\nb");
        var back = Notebook.Parse(nb.ToJson(), "t2");
        var json = back.ToJson();
        foreach (var kept in new[] { "\"custom\"", "\"attachments\"", "\"id\": \"m1\"", "\"tags\"", "# Title ü 𝛼 <b>" })
            Assert.Contains(kept, json);
        Assert.Equal(["a\n", "b"], back.Cells[1].Outputs[0]!["text"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.Null(back.Cells[1].ExecutionCount);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "expected a JSON object")]
    [InlineData("{\"nbformat\": 3, \"cells\": []}", "expected nbformat 4")]
    [InlineData("{\"nbformat\": 4}", "\"cells\" array")]
    [InlineData("{\"nbformat\": 4, \"cells\": [{\"cell_type\": \"widget\"}]}", "unknown cell_type")]
    public void Bad_notebooks_are_refused_clearly(string json, string fragment) =>
        Assert.Contains(fragment, Assert.Throws<NotebookFormatException>(() => Notebook.Parse(json, "bad.ipynb")).Message);

    [Fact]
    public void Directives_are_planned_like_the_kernel()
    {
        var plan = CellDirectives.Plan("#!csharp\n#r \"nuget: Plotly.NET, 6.0.0\"\n#r \"nuget:TorchSharp-cpu,0.107\"\n#r \"../bin/AttnKit.dll\"\n#r \"lib/Other.dll\"\n#load \"x.csx\"\nvar a = 1;");
        Assert.False(plan.IsMarkdown);
        Assert.Equal(["Plotly.NET", "TorchSharp-cpu"], plan.Packages.Select(p => p.Id));
        Assert.Equal(["AttnKit"], plan.OwnAssemblies);
        Assert.Equal("\n\n\n\n#r \"lib/Other.dll\"\n#load \"x.csx\"\nvar a = 1;", plan.Code); // line numbers kept
        Assert.True(CellDirectives.Plan("#!markdown\n# hi").IsMarkdown);
        Assert.Equal("fsharp", Notebook.Parse("""{"nbformat": 4, "metadata": {"polyglot_notebook": {"kernelInfo": {"defaultKernelName": "fsharp"}}}, "cells": []}""").DefaultKernel);
        Assert.Equal(3, Assert.Throws<DirectiveException>(() => CellDirectives.Plan("var a = 1;\n\n#!time")).Line);
        Assert.Contains("not 1.0.0", Assert.Throws<DirectiveException>(() => CellDirectives.Plan("#r \"nuget: Microsoft.Data.Analysis, 1.0.0\"")).Message);
    }
}
