using System.Xml;
using AttnNotebooks.Runner.Site;

namespace AttnNotebooks.Runner.Tests.Site;

/// <summary>TeX → MathML: delimiters, environments, and input that is wrong or unknown.</summary>
public class TexEnvironmentTests
{
    private const string Right = "<mtd columnalign=\"right\" style=\"text-align:right;padding-right:0\">";
    private const string Left = "<mtd columnalign=\"left\" style=\"text-align:left;padding-left:0\">";
    private const string CasesCell = "<mtd columnalign=\"left\" style=\"text-align:left\">";

    private static string Fence(string c, string form) => $"<mo fence=\"true\" form=\"{form}\" stretchy=\"true\">{c}</mo>";

    [Theory]
    [InlineData("\\left( \\frac{a}{b} \\right)", "(", "<mfrac><mi>a</mi><mi>b</mi></mfrac>", ")")]
    [InlineData("\\left[ x \\right]", "[", "<mi>x</mi>", "]")]
    [InlineData("\\left\\{ x \\right.", "{", "<mi>x</mi>", "")]
    [InlineData("\\left| x \\right|", "|", "<mi>x</mi>", "|")]
    [InlineData("\\left\\| x \\right\\|", "‖", "<mi>x</mi>", "‖")]
    [InlineData("\\left\\langle q, k \\right\\rangle", "⟨", "<mi>q</mi><mo>,</mo><mi>k</mi>", "⟩")]
    [InlineData("\\left\\lVert x \\right\\rVert", "‖", "<mi>x</mi>", "‖")]
    [InlineData("\\left\\lfloor x \\right\\rfloor", "⌊", "<mi>x</mi>", "⌋")]
    public void Left_and_right_make_stretchy_fences(string tex, string open, string inner, string close)
    {
        var expected = "<mrow>" + (open.Length > 0 ? Fence(open, "prefix") : "") + inner + (close.Length > 0 ? Fence(close, "postfix") : "") + "</mrow>";
        Assert.Equal(expected, TexToMathML.Convert(tex));
    }

    [Theory]
    [InlineData("\\lVert x \\rVert", "<mrow><mo stretchy=\"false\">‖</mo><mi>x</mi><mo stretchy=\"false\">‖</mo></mrow>")]
    [InlineData("\\|x\\|_2", "<mrow><mo stretchy=\"false\">‖</mo><mi>x</mi><msub><mo stretchy=\"false\">‖</mo><mn>2</mn></msub></mrow>")]
    [InlineData("\\{ x \\}", "<mrow><mo stretchy=\"false\">{</mo><mi>x</mi><mo stretchy=\"false\">}</mo></mrow>")]
    [InlineData("|x|", "<mrow><mo stretchy=\"false\">|</mo><mi>x</mi><mo stretchy=\"false\">|</mo></mrow>")]
    [InlineData("\\big( x \\big)", "<mrow><mo minsize=\"1.2em\" maxsize=\"1.2em\" stretchy=\"true\" symmetric=\"true\">(</mo><mi>x</mi><mo minsize=\"1.2em\" maxsize=\"1.2em\" stretchy=\"true\" symmetric=\"true\">)</mo></mrow>")]
    public void Plain_delimiters_do_not_stretch_and_sized_ones_have_their_size(string tex, string mathml) =>
        Assert.Equal(mathml, TexToMathML.Convert(tex));

    [Fact]
    public void Aligned_alternates_right_and_left_columns_in_display_style()
    {
        var expected = "<mtable displaystyle=\"true\">"
                       + "<mtr>" + Right + "<mi>a</mi></mtd>" + Left + "<mrow><mo>=</mo><mi>b</mi></mrow></mtd></mtr>"
                       + "<mtr>" + Right + "<mi>c</mi></mtd>" + Left + "<mrow><mo>=</mo><mi>d</mi></mrow></mtd></mtr>"
                       + "</mtable>";
        Assert.Equal(expected, TexToMathML.Convert("\\begin{aligned} a &= b \\\\ c &= d \\\\ \\end{aligned}"));
        Assert.Equal(expected, TexToMathML.Convert("a &= b \\\\[4pt] c &= d"));
    }

    [Fact]
    public void Lines_without_ampersands_are_centred()
    {
        Assert.Equal("<mtable displaystyle=\"true\"><mtr><mtd><mi>a</mi></mtd></mtr><mtr><mtd><mi>b</mi></mtd></mtr></mtable>",
                     TexToMathML.Convert("a \\\\ b"));
    }

    [Fact]
    public void Cases_have_a_left_brace_and_left_aligned_columns()
    {
        var expected = "<mrow>" + Fence("{", "prefix") + "<mtable>"
                       + "<mtr>" + CasesCell + "<mn>1</mn></mtd>" + CasesCell + "<mrow><mi>x</mi><mo>&gt;</mo><mn>0</mn></mrow></mtd></mtr>"
                       + "<mtr>" + CasesCell + "<mn>0</mn></mtd>" + CasesCell + "<mtext>otherwise</mtext></mtd></mtr>"
                       + "</mtable></mrow>";
        Assert.Equal(expected, TexToMathML.Convert("\\begin{cases} 1 & x > 0 \\\\ 0 & \\text{otherwise} \\end{cases}"));
    }

    [Theory]
    [InlineData("pmatrix", "(", ")")]
    [InlineData("bmatrix", "[", "]")]
    [InlineData("vmatrix", "|", "|")]
    public void Matrices_are_tables_between_their_delimiters(string env, string open, string close)
    {
        var table = "<mtable><mtr><mtd><mi>a</mi></mtd><mtd><mi>b</mi></mtd></mtr><mtr><mtd><mi>c</mi></mtd><mtd><mi>d</mi></mtd></mtr></mtable>";
        Assert.Equal("<mrow>" + Fence(open, "prefix") + table + Fence(close, "postfix") + "</mrow>",
                     TexToMathML.Convert($"\\begin{{{env}}} a & b \\\\ c & d \\end{{{env}}}"));
        Assert.Equal(table, TexToMathML.Convert("\\begin{matrix} a & b \\\\ c & d \\end{matrix}"));
    }

    [Theory]
    [InlineData("\\foo x", "<mrow><merror><mtext>\\foo</mtext></merror><mi>x</mi></mrow>")]
    [InlineData("\\argmax_i", "<msub><merror><mtext>\\argmax</mtext></merror><mi>i</mi></msub>")]
    [InlineData("}", "<merror><mtext>}</mtext></merror>")]
    [InlineData("a & b", "<mtable displaystyle=\"true\"><mtr>" + Right + "<mi>a</mi></mtd>" + Left + "<mi>b</mi></mtd></mtr></mtable>")]
    [InlineData("\\right)", "<merror><mtext>\\right</mtext></merror>")]
    [InlineData("\\begin{foo} x \\end{foo}", "<merror><mtext>\\begin{foo}</mtext></merror><mtable><mtr><mtd><mi>x</mi></mtd></mtr></mtable>")]
    [InlineData("x^", "<msup><mi>x</mi><merror><mtext>missing argument</mtext></merror></msup>")]
    [InlineData("\\", "<merror><mtext>\\</mtext></merror>")]
    public void Unknown_or_broken_input_shows_an_error_in_place(string tex, string mathml) => Assert.Equal(mathml, TexToMathML.Convert(tex));

    [Theory]
    [InlineData("\\frac{a}{")]
    [InlineData("\\left( x")]
    [InlineData("\\sqrt[3")]
    [InlineData("\\begin{aligned} a &= b")]
    [InlineData("{{{{")]
    [InlineData("\\text{unclosed")]
    [InlineData("x_{_{_{}}}")]
    [InlineData("\\not x")]
    [InlineData("\\left\\foo x \\right\\bar")]
    public void Broken_input_never_throws_and_is_well_formed(string tex) => AssertWellFormed(TexToMathML.Convert(tex));

    [Fact]
    public void Deep_nesting_ends_in_an_error_not_a_crash()
    {
        var tex = new string('{', 5000) + "x" + new string('}', 5000);
        var mathml = TexToMathML.Convert(tex);
        AssertWellFormed(mathml);
        Assert.Contains("<merror>", mathml);
    }

    [Fact]
    public void Random_input_never_throws_and_is_always_well_formed()
    {
        string[] pieces = ["x", "2", "{", "}", "^", "_", "\\frac", "\\sqrt", "[", "]", "\\left(", "\\right)", "&", "\\\\", "\\begin{aligned}",
                           "\\end{aligned}", "\\text{", "\\mathbf", "\\sum", "\\max", "'", " ", "\\alpha", "\\foo", "<", "&", "\\", "\\begin{cases}",
                           "\\end{pmatrix}", "\\operatorname", "\\hat", "\\big", "\\not", "%", "\n", "\\color{", "\\displaystyle"];
        var random = new Random(20240611);
        for (int i = 0; i < 3000; i++)
        {
            var tex = string.Concat(Enumerable.Range(0, random.Next(1, 14)).Select(_ => pieces[random.Next(pieces.Length)]));
            string mathml = TexToMathML.Convert(tex);
            AssertWellFormed(mathml, tex);
        }
    }

    private static void AssertWellFormed(string mathml, string? tex = null)
    {
        var doc = new XmlDocument();
        try
        {
            doc.LoadXml("<math xmlns=\"http://www.w3.org/1998/Math/MathML\">" + mathml + "</math>");
        }
        catch (XmlException e)
        {
            Assert.Fail($"not well-formed MathML for {tex}: {e.Message}\n{mathml}");
        }
    }
}
