using AttnNotebooks.Runner.Notebooks;
using AttnNotebooks.Runner.Site;

namespace AttnNotebooks.Runner.Tests.Site;

public sealed class SiteWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("attn-site-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private SiteResult WriteSample(SiteOptions? options = null) =>
        SiteWriter.Write([("sample.ipynb", SampleNotebook.Load())], _dir, options ?? new SiteOptions
        {
            Title = "Test site",
            Statuses = new Dictionary<string, NotebookStatus> { ["sample.ipynb"] = new(true, 1.5) },
            Footer = "a footer line",
        });

    private string Page() => File.ReadAllText(Path.Combine(_dir, "sample.html"));

    [Fact]
    public void Writes_a_page_per_notebook_the_index_and_the_assets()
    {
        var result = WriteSample();
        Assert.Equal(Path.Combine(_dir, "index.html"), result.IndexPath);
        Assert.Equal([Path.Combine(_dir, "sample.html")], result.Pages);
        var plotly = new FileInfo(Path.Combine(_dir, "assets", "plotly-2.28.0.min.js"));
        Assert.True(plotly.Exists && plotly.Length > 1_000_000, "plotly.js is copied from Plotly.NET");
        Assert.Contains("plotly.js v2.28.0", File.ReadAllText(plotly.FullName)[..2000]);
        Assert.True(File.Exists(Path.Combine(_dir, "assets", "plotly-2.28.0.min.js.LICENSE.txt")));
        Assert.Contains(".tok-kw", File.ReadAllText(Path.Combine(_dir, "assets", "site.css")));
    }

    [Fact]
    public void Plotly_loads_synchronously_in_the_head_before_any_output_and_nothing_else_is_remote()
    {
        WriteSample();
        var page = Page();
        var script = page.IndexOf("<script src=\"assets/plotly-2.28.0.min.js\"></script>", StringComparison.Ordinal);
        Assert.True(script > 0 && script < page.IndexOf("</head>", StringComparison.Ordinal));
        Assert.True(script < page.IndexOf("attn-chart", StringComparison.Ordinal));
        Assert.Contains("<link rel=\"stylesheet\" href=\"assets/site.css\">", page);
        // the only remote address is the charts' own CDN fallback, which never runs because window.Plotly exists
        var withoutFallback = page.Replace("s.src='https://cdn.plot.ly/plotly-2.28.0.min.js'", "");
        Assert.DoesNotContain("http://", withoutFallback);
        Assert.DoesNotContain("https://", withoutFallback);
    }

    [Fact]
    public void Outputs_are_written_in_order_with_prompts()
    {
        WriteSample();
        var page = Page();
        string[] order =
        [
            "In [1]:", "<pre class=\"stream stdout\">device: cpu\ntokens: 3\n</pre>", "id=\"chart-heat\"", "id=\"chart-lines\"", "Out[1]:",
            "class=\"attn-table\"", "plain &lt;script&gt;alert('x')&lt;/script&gt; &amp; done", "<pre class=\"stream stderr\">warning: slow path\n</pre>",
            "<span class=\"ename\">System.InvalidOperationException</span>: <span class=\"evalue\">the mask has the wrong shape</span>",
            "at Submission#1.&lt;&lt;Initialize&gt;&gt;d__0.MoveNext()",
        ];
        int at = 0;
        foreach (var fragment in order)
        {
            int next = page.IndexOf(fragment, at, StringComparison.Ordinal);
            Assert.True(next >= 0, $"missing or out of order: {fragment}");
            at = next + fragment.Length;
        }
        Assert.False(page.Contains('\u001b'), "ANSI escapes are stripped");
    }

    [Fact]
    public void Script_tags_in_text_and_code_are_escaped()
    {
        WriteSample();
        var page = Page();
        Assert.DoesNotContain("<script>alert", page);
        Assert.Contains("// a comment with &lt;script&gt;alert(1)&lt;/script&gt;", page);
        Assert.Contains("<span class=\"tok-pp\">#r &quot;nuget: Plotly.NET, 6.0.0&quot;</span>", page);
    }

    [Fact]
    public void Headings_get_unique_github_style_anchors_and_a_contents_list()
    {
        WriteSample();
        var page = Page();
        foreach (var id in new[] { "attention-at-a-glance", "the-equation", "exercise", "exercise-1" })
            Assert.Contains($"id=\"{id}\"", page);
        Assert.Contains("<a href=\"#the-equation\">The equation</a>", page);
        Assert.Equal("the-equation", MarkdownRenderer.Slug("The equation"));
        Assert.Equal("scaled-dot-product-attention-sdpa", MarkdownRenderer.Slug("Scaled Dot-Product Attention (SDPA)"));
    }

    [Fact]
    public void Markdown_math_becomes_mathml_and_tables_render()
    {
        WriteSample();
        var page = Page();
        Assert.Contains("<div class=\"math-block\"><math display=\"block\"><semantics><mrow><mi>Attention</mi>", page);
        Assert.Contains("<math display=\"inline\"><semantics><mrow><mi>Q</mi><mo>∈</mo>", page);
        Assert.Contains("<th>mask</th>", page);
        Assert.DoesNotContain("<merror>", page);
        Assert.Contains("<span class=\"nowrap\"><math display=\"inline\"><semantics><mrow><mi>softmax</mi>", page); // and its full stop
    }

    [Fact]
    public void The_index_lists_each_notebook_with_its_heading_description_and_status()
    {
        WriteSample();
        var index = File.ReadAllText(Path.Combine(_dir, "index.html"));
        Assert.Contains("<title>Test site</title>", index);
        Assert.Contains("<h1>Test site</h1>", index);
        Assert.Contains("<a class=\"nb-link\" href=\"sample.html\">Attention at a glance</a>", index);
        Assert.Contains("<div class=\"nb-desc\">Scaled dot-product attention weighs", index);
        Assert.Contains("<span class=\"status passed\">passed · 1.5 s</span>", index);
        Assert.Contains("1 passed, 0 failed", index);
        Assert.Contains("<footer class=\"site-footer\">a footer line</footer>", index);
        Assert.Contains("<script src=\"assets/plotly-2.28.0.min.js\"></script>", index);
    }

    [Fact]
    public void The_index_links_other_pages_when_given_and_only_then()
    {
        WriteSample(new SiteOptions { Links = [new SiteLink("catalog.html", "Paper catalog", "every seed paper & where")] });
        var index = File.ReadAllText(Path.Combine(_dir, "index.html"));
        Assert.Contains("<ul class=\"site-links\">\n<li><a href=\"catalog.html\">Paper catalog</a> <span class=\"link-desc\">every seed paper &amp; where</span></li>", index);
        WriteSample();
        Assert.DoesNotContain("site-links", File.ReadAllText(Path.Combine(_dir, "index.html")));
    }

    [Fact]
    public void Pages_in_sub_folders_link_back_to_the_root_and_to_each_other()
    {
        var plain = Notebook.Parse("""{"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[{"cell_type":"code","metadata":{},"source":"1+1","outputs":[]}]}""", "a.ipynb");
        SiteWriter.Write([("a.ipynb", plain), ("part/b.ipynb", SampleNotebook.Load())], _dir, new SiteOptions());
        var b = File.ReadAllText(Path.Combine(_dir, "part", "b.html"));
        Assert.Contains("href=\"../assets/site.css\"", b);
        Assert.Contains("<script src=\"../assets/plotly-2.28.0.min.js\"></script>", b);
        Assert.Contains("<a class=\"prev\" href=\"../a.html\">← a</a>", b); // no heading: the file name is the title
        var a = File.ReadAllText(Path.Combine(_dir, "a.html"));
        Assert.Contains("<a class=\"next\" href=\"part/b.html\">Attention at a glance →</a>", a);
        Assert.Contains("In [ ]:", a); // never executed
        Assert.Contains("href=\"part/b.html\"", File.ReadAllText(Path.Combine(_dir, "index.html")));
    }

    [Theory]
    [InlineData("../x.ipynb")]
    [InlineData("/abs/x.ipynb")]
    [InlineData("index.ipynb")]
    [InlineData("assets/x.ipynb")]
    public void Names_that_would_leave_the_site_or_overwrite_it_are_refused(string name) =>
        Assert.Throws<ArgumentException>(() => SiteWriter.Write([(name, SampleNotebook.Load())], _dir, new SiteOptions()));

    [Fact]
    public void Two_notebooks_with_one_page_name_are_refused() =>
        Assert.Throws<ArgumentException>(() => SiteWriter.Write([("x.ipynb", SampleNotebook.Load()), ("X.ipynb", SampleNotebook.Load())], _dir, new SiteOptions()));

    [Fact]
    public void Images_latex_json_and_attachments_are_shown()
    {
        const string png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
        var json = """
            {"nbformat":4,"nbformat_minor":5,"metadata":{},"cells":[
             {"cell_type":"markdown","metadata":{},"source":"![dot](attachment:dot.png)","attachments":{"dot.png":{"image/png":"PNG"}}},
             {"cell_type":"code","execution_count":2,"metadata":{},"source":"x","outputs":[
               {"output_type":"display_data","data":{"image/png":"PNG","text/plain":"img"},"metadata":{"image/png":{"width":40}}},
               {"output_type":"display_data","data":{"text/latex":"$$x^2$$","text/plain":"x^2"},"metadata":{}},
               {"output_type":"display_data","data":{"application/json":{"a":[1,2]}},"metadata":{}},
               {"output_type":"display_data","data":{"application/x-unknown":"?"},"metadata":{}}
             ]}]}
            """.Replace("PNG", png);
        SiteWriter.Write([("img.ipynb", Notebook.Parse(json))], _dir, new SiteOptions());
        var page = File.ReadAllText(Path.Combine(_dir, "img.html"));
        Assert.Contains($"<img src=\"data:image/png;base64,{png}\" alt=\"dot\" />", page);
        Assert.Contains($"<img class=\"output-image\" alt=\"output image\" src=\"data:image/png;base64,{png}\" width=\"40\">", page);
        Assert.Contains("<math display=\"block\"><semantics><msup><mi>x</mi><mn>2</mn></msup>", page);
        Assert.Contains("&quot;a&quot;: [", page);
        Assert.Contains("An output in application/x-unknown (not shown on this page).", page);
    }
}
