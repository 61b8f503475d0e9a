using AttnNotebooks.Runner.Site;

namespace AttnNotebooks.Runner.Tests.Site;

public class MarkdownRendererTests
{
    [Theory]
    [InlineData("First sentence here. Second sentence.", "First sentence here.")]
    [InlineData("One line\nwraps here. Next.", "One line wraps here.")]
    [InlineData("No stop at all", "No stop at all")]
    [InlineData("**Bold** start. Next", "<strong>Bold</strong> start.")]
    [InlineData("# Title\n\nThe paragraph. More", "The paragraph.")]
    [InlineData("Uses $x$. Then more.", "Uses <span class=\"nowrap\"><math display=\"inline\"><semantics><mi>x</mi><annotation encoding=\"application/x-tex\">x</annotation></semantics></math>.</span>")]
    public void The_summary_is_the_first_sentence_of_the_first_paragraph(string markdown, string summary) =>
        Assert.Equal(summary, MarkdownRenderer.Render(markdown).SummaryHtml);

    [Fact]
    public void Headings_repeated_across_cells_get_suffixes_like_github()
    {
        var used = new HashSet<string>();
        var first = MarkdownRenderer.Render("## Setup\n\n## Setup", used);
        var second = MarkdownRenderer.Render("## Setup", used);
        Assert.Equal(["setup", "setup-1"], first.Headings.Select(h => h.Id));
        Assert.Equal(["setup-2"], second.Headings.Select(h => h.Id));
        Assert.Contains("<h2 id=\"setup-2\">Setup</h2>", second.Html);
    }

    [Theory]
    [InlineData("The equation", "the-equation")]
    [InlineData("Scaled Dot-Product Attention (SDPA)", "scaled-dot-product-attention-sdpa")]
    [InlineData("KV cache: 4 × smaller", "kv-cache-4--smaller")]
    [InlineData("`torch.nn` and you", "torchnn-and-you")]
    public void Slugs_follow_the_github_rule(string heading, string slug)
    {
        Assert.Equal(slug, MarkdownRenderer.Slug(heading));
        Assert.Equal(slug, MarkdownRenderer.Render("## " + heading).Headings[0].Id); // the page uses the same rule
    }

    [Fact]
    public void Heading_text_and_html_keep_math()
    {
        var heading = MarkdownRenderer.Render("# Cost $O(n^2)$").Headings[0];
        Assert.Equal("Cost O(n^2)", heading.Text);
        Assert.StartsWith("Cost <math display=\"inline\">", heading.Html);
    }

    [Fact]
    public void Display_math_pipe_tables_and_raw_html_render()
    {
        var html = MarkdownRenderer.Render("$$\na^2\n$$\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n<kbd>x</kbd>").Html;
        Assert.Contains("<div class=\"math-block\"><math display=\"block\"><semantics><msup><mi>a</mi><mn>2</mn></msup>", html);
        Assert.Contains("<th>a</th>", html);
        Assert.Contains("<kbd>x</kbd>", html);
    }

    [Fact]
    public void Media_links_stay_links_and_never_embed_a_remote_player()
    {
        var html = MarkdownRenderer.Render("![video](https://www.youtube.com/watch?v=abc)").Html;
        Assert.DoesNotContain("<iframe", html);
    }
}
