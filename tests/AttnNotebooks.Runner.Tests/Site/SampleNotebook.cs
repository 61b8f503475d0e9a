using System.Text.Json.Nodes;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Tests.Site;

/// <summary>
/// An executed notebook written by hand for the site tests: markdown with headings, inline and display math and a table;
/// a code cell whose outputs are a stream, two Plotly charts (as the engine writes them), an HTML table, plain text that
/// holds a script tag, a stderr stream and an error with ANSI colours in its traceback.
/// </summary>
internal static class SampleNotebook
{
    public const string Intro = """
        # Attention at a glance

        Scaled dot-product attention weighs the values by how well each query matches each key: $\operatorname{softmax}(QK^\top / \sqrt{d})\,V$.

        ## The equation

        For queries $Q \in \mathbb{R}^{n \times d}$ and keys $K$, with $\alpha_{ij} \ge 0$ and $\sum_j \alpha_{ij} = 1$:

        $$
        \operatorname{Attention}(Q, K, V) = \operatorname{softmax}\left(\frac{QK^\top}{\sqrt{d_k}}\right) V
        $$

        $$
        \begin{aligned}
        s_{ij} &= \frac{q_i \cdot k_j}{\sqrt{d}} \\
        p_{ij} &= \frac{\exp(s_{ij})}{\sum_{l=1}^{n} \exp(s_{il})}
        \end{aligned}
        $$

        | mask | cost |
        |------|------|
        | full | $O(n^2)$ |
        | sliding window $w$ | $O(n w)$ |

        ## Exercise
        """;

    public const string Code = """"
        #r "nuget: Plotly.NET, 6.0.0"
        using Plotly.NET;
        // a comment with <script>alert(1)</script>
        var s = $"n = {n} and \"quoted\" {(flag ? "yes" : "no")}";
        var path = @"C:\temp\""x""";
        char c = '<';
        double x = 1.5e-3;
        display(chart);
        """";

    public const string HeatmapData = """[{"type":"heatmap","z":[[1,0,0],[0.5,0.5,0],[0.2,0.3,0.5]],"x":["the","cat","sat"],"y":["the","cat","sat"],"colorscale":"Viridis"}]""";
    public const string HeatmapLayout = """{"title":{"text":"Attention weights"},"width":460,"height":380,"yaxis":{"autorange":"reversed"}}""";
    public const string LinesData = """[{"type":"scatter","mode":"lines+markers","x":[128,256,512,1024],"y":[1,4,16,64],"name":"full"},{"type":"scatter","mode":"lines+markers","x":[128,256,512,1024],"y":[1,2,4,8],"name":"linear"}]""";
    public const string LinesLayout = """{"title":{"text":"Cost against length"},"xaxis":{"type":"log","title":{"text":"tokens"}},"yaxis":{"title":{"text":"relative cost"}},"height":360}""";

    public const string Table = "<table class=\"attn-table\"><thead><tr><th>head</th><th>entropy</th></tr></thead><tbody><tr><td>0</td><td>1.05</td></tr><tr><td>1</td><td>0.42</td></tr></tbody></table>";

    /// <summary>A chart output's HTML, as the notebook engine writes it: draws with window.Plotly, else loads it from the CDN.</summary>
    public static string Chart(string id, string data, string layout) =>
        $"<div id=\"{id}\" class=\"attn-chart\" style=\"width:100%;height:auto;\"></div>\n" +
        "<script type=\"text/javascript\">(function(){var draw=function(){Plotly.newPlot('" + id + "', " + data + ", " + layout +
        ", {\"responsive\":true});};if(window.Plotly){draw();}else{var s=document.createElement('script');s.src='https://cdn.plot.ly/plotly-2.28.0.min.js';s.onload=draw;document.head.appendChild(s);}})();</script>";

    /// <summary>The notebook's JSON (nbformat 4, .NET C# metadata).</summary>
    public static string Json()
    {
        var outputs = new JsonArray
        {
            Stream("stdout", "device: cpu\n"),
            Stream("stdout", "tokens: 3\n"),
            Display("display_data", new() { ["text/html"] = Chart("chart-heat", HeatmapData, HeatmapLayout), ["text/plain"] = "GenericChart" }),
            Display("display_data", new() { ["text/html"] = Chart("chart-lines", LinesData, LinesLayout), ["text/plain"] = "GenericChart" }),
            Display("execute_result", new() { ["text/html"] = Table, ["text/plain"] = "a table" }, 1),
            Display("display_data", new() { ["text/plain"] = "plain <script>alert('x')</script> & done" }),
            Stream("stderr", "warning: \u001b[33mslow\u001b[0m path\n"),
            new JsonObject
            {
                ["output_type"] = "error",
                ["ename"] = "System.InvalidOperationException",
                ["evalue"] = "the mask has the wrong shape",
                ["traceback"] = new JsonArray("\u001b[31mSystem.InvalidOperationException: the mask has the wrong shape\u001b[0m", "   at Submission#1.<<Initialize>>d__0.MoveNext()"),
            },
        };
        var root = new JsonObject
        {
            ["nbformat"] = 4,
            ["nbformat_minor"] = 5,
            ["metadata"] = new JsonObject
            {
                ["kernelspec"] = new JsonObject { ["display_name"] = ".NET (C#)", ["language"] = "C#", ["name"] = ".net-csharp" },
                ["polyglot_notebook"] = new JsonObject { ["defaultKernelName"] = "csharp" },
            },
            ["cells"] = new JsonArray
            {
                Markdown(Intro),
                new JsonObject
                {
                    ["cell_type"] = "code",
                    ["execution_count"] = 1,
                    ["metadata"] = new JsonObject { ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" } },
                    ["source"] = Lines(Code),
                    ["outputs"] = outputs,
                },
                Markdown("## Exercise\n\nRepeat the heading: its anchor must still be unique. See [the equation](#the-equation)."),
            },
        };
        return root.ToJsonString();
    }

    public static Notebook Load() => Notebook.Parse(Json(), "sample.ipynb");

    private static JsonObject Markdown(string text) => new() { ["cell_type"] = "markdown", ["metadata"] = new JsonObject(), ["source"] = Lines(text) };

    private static JsonObject Stream(string name, string text) => new() { ["output_type"] = "stream", ["name"] = name, ["text"] = Lines(text) };

    private static JsonObject Display(string type, Dictionary<string, string> bundle, int? count = null)
    {
        var data = new JsonObject();
        foreach (var (mime, value) in bundle) data[mime] = Lines(value);
        var output = new JsonObject { ["output_type"] = type, ["data"] = data, ["metadata"] = new JsonObject() };
        if (count is int n) output["execution_count"] = n;
        return output;
    }

    private static JsonArray Lines(string text) => AttnNotebooks.Runner.Notebooks.NotebookCell.SplitLines(text);
}
