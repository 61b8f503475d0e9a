using System.Net;
using System.Text.RegularExpressions;
using AttnNotebooks.Runner.Site;

namespace AttnNotebooks.Runner.Tests.Site;

public class CSharpHighlighterTests
{
    [Theory]
    [InlineData("var x = 1;", "<span class=\"tok-kw\">var</span> x = <span class=\"tok-num\">1</span>;")]
    [InlineData("Foo(2.5e-3f)", "<span class=\"tok-fn\">Foo</span>(<span class=\"tok-num\">2.5e-3f</span>)")]
    [InlineData("0xFF_FF", "<span class=\"tok-num\">0xFF_FF</span>")]
    [InlineData("\"a\\\"b<\"", "<span class=\"tok-str\">&quot;a\\&quot;b&lt;&quot;</span>")]
    [InlineData("@\"C:\\x\"\"y\"\"\" + z", "<span class=\"tok-str\">@&quot;C:\\x&quot;&quot;y&quot;&quot;&quot;</span> + z")]
    [InlineData("$\"n={n}\"", "<span class=\"tok-str\">$&quot;n={</span>n<span class=\"tok-str\">}&quot;</span>")]
    [InlineData("$\"{(a ? \"y\" : \"n\")}\"", "<span class=\"tok-str\">$&quot;{</span>(a ? <span class=\"tok-str\">&quot;y&quot;</span> : <span class=\"tok-str\">&quot;n&quot;</span>)<span class=\"tok-str\">}&quot;</span>")]
    [InlineData("$\"{{literal}}\"", "<span class=\"tok-str\">$&quot;{{literal}}&quot;</span>")]
    [InlineData("\"\"\"raw \"quoted\" text\"\"\"", "<span class=\"tok-str\">&quot;&quot;&quot;raw &quot;quoted&quot; text&quot;&quot;&quot;</span>")]
    [InlineData("$\"\"\"v={v}\"\"\"", "<span class=\"tok-str\">$&quot;&quot;&quot;v={</span>v<span class=\"tok-str\">}</span><span class=\"tok-str\">&quot;&quot;&quot;</span>")]
    [InlineData("char c = '<';", "<span class=\"tok-kw\">char</span> c = <span class=\"tok-chr\">'&lt;'</span>;")]
    [InlineData("'\\''", "<span class=\"tok-chr\">'\\''</span>")]
    [InlineData("x // <script>", "x <span class=\"tok-com\">// &lt;script&gt;</span>")]
    [InlineData("a /* b */ c", "a <span class=\"tok-com\">/* b */</span> c")]
    [InlineData("#r \"nuget: Plotly.NET, 6.0.0\"", "<span class=\"tok-pp\">#r &quot;nuget: Plotly.NET, 6.0.0&quot;</span>")]
    [InlineData("#!csharp\nint n;", "<span class=\"tok-pp\">#!csharp</span>\n<span class=\"tok-kw\">int</span> n;")]
    [InlineData("  #load \"x.csx\"", "  <span class=\"tok-pp\">#load &quot;x.csx&quot;</span>")]
    [InlineData("@class", "@class")]
    [InlineData("await Task.Delay(1)", "<span class=\"tok-kw\">await</span> Task.<span class=\"tok-fn\">Delay</span>(<span class=\"tok-num\">1</span>)")]
    [InlineData("a < b && c > d", "a &lt; b &amp;&amp; c &gt; d")]
    public void Highlights(string source, string html) => Assert.Equal(html, CSharpHighlighter.ToHtml(source));

    [Theory]
    [InlineData("\"unterminated")]
    [InlineData("$\"{unclosed")]
    [InlineData("'")]
    [InlineData("/* open")]
    [InlineData("\"\"\"raw without end")]
    [InlineData("$$\"\"\"{{x}\"\"\"")]
    [InlineData("@")]
    [InlineData("$")]
    public void Broken_code_is_kept_whole(string source) => AssertRoundTrip(source);

    [Fact]
    public void Any_text_comes_back_unchanged_once_tags_are_removed_and_entities_decoded()
    {
        AssertRoundTrip(SampleNotebook.Code);
        const string alphabet = "ab1 .\"'$@{}#/*\\\n<>&()e-x_";
        var random = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            var source = new string(Enumerable.Range(0, random.Next(1, 30)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
            AssertRoundTrip(source);
        }
    }

    private static void AssertRoundTrip(string source)
    {
        var html = CSharpHighlighter.ToHtml(source);
        Assert.DoesNotMatch("<(?!/?span)", html); // only our spans: every '<' of the source is escaped
        Assert.Equal(source, WebUtility.HtmlDecode(Regex.Replace(html, "</?span[^>]*>", "")));
    }
}
