using AttnKit.Catalog;

namespace AttnKit.Tests.Catalog;

/// <summary>
/// The anchor rule. The expected ids are what the runner's site (Markdig's GitHub auto-identifiers) gives; the runner's
/// tests check the same headings, and every heading of every notebook, against Markdig itself.
/// </summary>
public class AnchorsTests
{
    [Theory]
    [InlineData("A first attention", "a-first-attention")]
    [InlineData("Scaled Dot-Product Attention (SDPA)", "scaled-dot-product-attention-sdpa")]
    [InlineData("KV cache: 4 × smaller", "kv-cache-4--smaller")]
    [InlineData("`torch.nn` and you", "torchnn-and-you")]
    [InlineData("Cost $O(n^2)$ here", "cost--here")]
    [InlineData("__init__ method", "init-method")]
    [InlineData("a _ b", "a-_-b")]
    [InlineData("_foo", "_foo")]
    [InlineData("snake_case_name", "snake_case_name")]
    [InlineData("foo_bar_", "foo_bar_")]
    [InlineData("x__y__z", "x__y__z")]
    [InlineData("_a_b_", "a_b")]
    [InlineData("[link](http://x.y/z) text", "link-text")]
    [InlineData("![img alt](a.png) after", "img-alt-after")]
    [InlineData("<kbd>Ctrl</kbd> key", "ctrl-key")]
    [InlineData("<https://a.b/c> auto", "httpsabc-auto")]
    [InlineData("&amp; &eacute; &#65;", "-é-a")]
    [InlineData("\\*star\\* \\_u\\_", "star-_u_")]
    [InlineData("Émile Ünïcode ß", "émile-ünïcode-ß")]
    [InlineData("~~strike~~ it", "strike-it")]
    [InlineData("a *b* **c** _d_ __e__", "a-b-c-d-e")]
    [InlineData("1. Numbered", "1-numbered")]
    [InlineData("(Parens) [brackets]", "parens-brackets")]
    [InlineData("Don't stop", "dont-stop")]
    [InlineData("C# and F#", "c-and-f")]
    [InlineData("α-β attention", "α-β-attention")]
    [InlineData("!!!", "section")]
    public void Slug_follows_the_sites_rule(string heading, string anchor) => Assert.Equal(anchor, Anchors.Slug(heading));

    [Fact]
    public void Headings_are_found_outside_code_and_math()
    {
        const string md = "# Title ##\n\nText\n\n```csharp\n# not a heading\n```\n\n$$\n# not either\n$$\n\n    # indented code\n\nSetext one\n===\n\n> ## Quoted\n\n- item\n---\n\n#hashtag\n\n### C#";
        Assert.Equal(["Title", "Setext one", "Quoted", "C#"], MarkdownHeadings.Texts(md));
    }

    [Fact]
    public void Repeated_headings_get_suffixes_within_a_cell_and_across_the_page()
    {
        Assert.Equal(["setup", "setup-1", "setup-2", "other"], Anchors.OfPage(["## Setup\n\n## Setup", "## Setup\n## Other"]));
    }

    [Fact]
    public void A_notebooks_anchors_come_from_its_markdown_cells()
    {
        var anchors = Anchors.OfNotebook(Path.Combine(PaperCatalogTests.RepositoryRoot(), "notebooks", "00-start-here.ipynb"));
        Assert.Contains("a-first-attention", anchors);
        Assert.Contains("setup", anchors);
        Assert.DoesNotContain("section", anchors);
    }
}
