using AttnKit.Catalog;
using AttnNotebooks.Runner.Notebooks;
using AttnNotebooks.Runner.Site;

namespace AttnNotebooks.Runner.Tests.Catalog;

/// <summary>
/// The catalog's anchor rule (AttnKit.Catalog.Anchors, no Markdig) and the site's (Markdig's GitHub auto-identifiers)
/// agree: on tricky headings, and on every heading of every notebook in the repository.
/// </summary>
public class AnchorRuleTests
{
    [Theory]
    [InlineData("A first attention")]
    [InlineData("Scaled Dot-Product Attention (SDPA)")]
    [InlineData("KV cache: 4 × smaller")]
    [InlineData("`torch.nn` and you")]
    [InlineData("`` a`b ``  double  spaces")]
    [InlineData("Cost $O(n^2)$ here")]
    [InlineData("Cost $$O(n)$$ and $ 5 and $6")]
    [InlineData("__init__ method")]
    [InlineData("a _ b")]
    [InlineData("_foo")]
    [InlineData("snake_case_name")]
    [InlineData("foo_bar_")]
    [InlineData("x__y__z")]
    [InlineData("_a_b_")]
    [InlineData("__bold__ and _it_alic_")]
    [InlineData("[link](http://x.y/z) text")]
    [InlineData("[link](<a b> \"title\") text [not a link]")]
    [InlineData("![img alt](a.png) after")]
    [InlineData("<kbd>Ctrl</kbd> key")]
    [InlineData("<https://a.b/c> auto")]
    [InlineData("<me@example.com> mail")]
    [InlineData("&amp; &eacute; &#65; &bogus;")]
    [InlineData("\\*star\\* \\_u\\_ \\# \\\\")]
    [InlineData("Émile Ünïcode ß")]
    [InlineData("~~strike~~ it")]
    [InlineData("a *b* **c** _d_ __e__")]
    [InlineData("1. Numbered")]
    [InlineData("(Parens) [brackets]")]
    [InlineData("H~2~O and 2^10^")]
    [InlineData("Don't stop")]
    [InlineData("C# and F#")]
    [InlineData("α-β attention")]
    [InlineData("Q·Kᵀ/√d, softmax → weights")]
    [InlineData("MHA, GQA & MQA: one call")]
    [InlineData("!!!")]
    public void The_catalog_and_the_site_slug_a_heading_alike(string heading) =>
        Assert.Equal(MarkdownRenderer.Slug(heading), Anchors.Slug(heading));

    public static TheoryData<string> Notebooks()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.EnumerateFiles(Path.Combine(RepositoryNotebooksTests.RepositoryRoot(), "notebooks"), "*.ipynb").Order(StringComparer.Ordinal))
            data.Add(Path.GetFileName(f));
        foreach (var f in Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "Notebooks"), "*.ipynb").Order(StringComparer.Ordinal))
            data.Add(Path.Combine("tests", Path.GetFileName(f)));
        return data;
    }

    [Theory]
    [MemberData(nameof(Notebooks))]
    public void Every_heading_of_a_notebook_gets_the_same_anchor_on_its_page(string notebook)
    {
        var path = notebook.StartsWith("tests", StringComparison.Ordinal)
            ? Path.Combine(AppContext.BaseDirectory, "Notebooks", Path.GetFileName(notebook))
            : Path.Combine(RepositoryNotebooksTests.RepositoryRoot(), "notebooks", notebook);
        var page = new NotebookPage(Notebook.Load(path), Path.GetFileNameWithoutExtension(path));
        Assert.Equal(page.Headings.Select(h => h.Id), Anchors.OfNotebook(path));
    }

    [Fact]
    public void Repeated_headings_across_cells_agree_with_the_page()
    {
        var used = new HashSet<string>();
        string[] cells = ["## Setup\n\n## Setup", "## Setup\n\nSetup\n---", "# Setup-1"];
        var site = cells.SelectMany(c => MarkdownRenderer.Render(c, used).Headings.Select(h => h.Id)).ToList();
        Assert.Equal(site, Anchors.OfPage(cells));
    }
}
