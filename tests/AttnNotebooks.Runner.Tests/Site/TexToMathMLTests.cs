using AttnNotebooks.Runner.Site;

namespace AttnNotebooks.Runner.Tests.Site;

/// <summary>TeX → MathML: each case's MathML written by hand from what the TeX means.</summary>
public class TexToMathMLTests
{
    private const string Thin = "<mspace width=\"0.1667em\"></mspace>";
    private const string Open = "<mo stretchy=\"false\">(</mo>";
    private const string Close = "<mo stretchy=\"false\">)</mo>";

    [Theory]
    // letters, digits, operators
    [InlineData("x", "<mi>x</mi>")]
    [InlineData("x+1", "<mrow><mi>x</mi><mo>+</mo><mn>1</mn></mrow>")]
    [InlineData("3.14", "<mn>3.14</mn>")]
    [InlineData("a-b", "<mrow><mi>a</mi><mo>−</mo><mi>b</mi></mrow>")]
    [InlineData("a*b", "<mrow><mi>a</mi><mo>∗</mo><mi>b</mi></mrow>")]
    [InlineData("x < y", "<mrow><mi>x</mi><mo>&lt;</mo><mi>y</mi></mrow>")]
    [InlineData("a/b", "<mrow><mi>a</mi><mo lspace=\"0em\" rspace=\"0em\">/</mo><mi>b</mi></mrow>")]
    [InlineData("x % a comment\n + y", "<mrow><mi>x</mi><mo>+</mo><mi>y</mi></mrow>")]
    // scripts
    [InlineData("x^2", "<msup><mi>x</mi><mn>2</mn></msup>")]
    [InlineData("x^23", "<mrow><msup><mi>x</mi><mn>2</mn></msup><mn>3</mn></mrow>")]
    [InlineData("x_{ij}^{2}", "<msubsup><mi>x</mi><mrow><mi>i</mi><mi>j</mi></mrow><mn>2</mn></msubsup>")]
    [InlineData("x^2_i", "<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>")]
    [InlineData("e^{-x^2}", "<msup><mi>e</mi><mrow><mo>−</mo><msup><mi>x</mi><mn>2</mn></msup></mrow></msup>")]
    [InlineData("K^\\top", "<msup><mi>K</mi><mi>⊤</mi></msup>")]
    [InlineData("f'(x)", "<mrow><mrow><mi>f</mi><mo lspace=\"0em\" rspace=\"0em\">′</mo></mrow>" + Open + "<mi>x</mi>" + Close + "</mrow>")]
    [InlineData("f''", "<mrow><mi>f</mi><mo lspace=\"0em\" rspace=\"0em\">″</mo></mrow>")]
    [InlineData("f'^2", "<msup><mi>f</mi><mrow><mo>′</mo><mn>2</mn></mrow></msup>")]
    [InlineData("x'_i", "<msubsup><mi>x</mi><mi>i</mi><mo>′</mo></msubsup>")]
    [InlineData("{}^{1}", "<msup><mrow></mrow><mn>1</mn></msup>")]
    // fractions and roots
    [InlineData("\\frac{a}{b}", "<mfrac><mi>a</mi><mi>b</mi></mfrac>")]
    [InlineData("\\frac12", "<mfrac><mn>1</mn><mn>2</mn></mfrac>")]
    [InlineData("\\dfrac{1}{n}", "<mstyle displaystyle=\"true\"><mfrac><mn>1</mn><mi>n</mi></mfrac></mstyle>")]
    [InlineData("\\sqrt{d}", "<msqrt><mi>d</mi></msqrt>")]
    [InlineData("\\sqrt[3]{x}", "<mroot><mi>x</mi><mn>3</mn></mroot>")]
    [InlineData("\\sqrt{\\frac{1}{n}}", "<msqrt><mfrac><mn>1</mn><mi>n</mi></mfrac></msqrt>")]
    [InlineData("\\binom{n}{k}", "<mrow><mo>(</mo><mfrac linethickness=\"0\"><mi>n</mi><mi>k</mi></mfrac><mo>)</mo></mrow>")]
    // Greek
    [InlineData("\\alpha\\Omega", "<mrow><mi>α</mi><mi mathvariant=\"normal\">Ω</mi></mrow>")]
    [InlineData("\\varepsilon", "<mi>ε</mi>")]
    // operators and relations
    [InlineData("a \\cdot b \\times c", "<mrow><mi>a</mi><mo>⋅</mo><mi>b</mi><mo>×</mo><mi>c</mi></mrow>")]
    [InlineData("a \\le b \\ge c \\ne d \\approx e", "<mrow><mi>a</mi><mo>≤</mo><mi>b</mi><mo>≥</mo><mi>c</mi><mo>≠</mo><mi>d</mi><mo>≈</mo><mi>e</mi></mrow>")]
    [InlineData("a \\odot b \\oplus c \\otimes d", "<mrow><mi>a</mi><mo>⊙</mo><mi>b</mi><mo>⊕</mo><mi>c</mi><mo>⊗</mo><mi>d</mi></mrow>")]
    [InlineData("n \\to \\infty", "<mrow><mi>n</mi><mo>→</mo><mi>∞</mi></mrow>")]
    [InlineData("\\leftarrow \\rightarrow \\mapsto", "<mrow><mo>←</mo><mo>→</mo><mo>↦</mo></mrow>")]
    [InlineData("1, \\ldots, n", "<mrow><mn>1</mn><mo>,</mo><mi>…</mi><mo>,</mo><mi>n</mi></mrow>")]
    [InlineData("a + \\cdots + z", "<mrow><mi>a</mi><mo>+</mo><mi>⋯</mi><mo>+</mo><mi>z</mi></mrow>")]
    [InlineData("\\not\\in", "<mo>∉</mo>")]
    [InlineData("\\not=", "<mo>≠</mo>")]
    // large operators and named functions
    [InlineData("\\sum_{i=1}^{n} x_i", "<mrow><munderover><mo movablelimits=\"true\">∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover><msub><mi>x</mi><mi>i</mi></msub></mrow>")]
    [InlineData("\\prod_i", "<munder><mo movablelimits=\"true\">∏</mo><mi>i</mi></munder>")]
    [InlineData("\\int_0^1 f", "<mrow><msubsup><mo>∫</mo><mn>0</mn><mn>1</mn></msubsup><mi>f</mi></mrow>")]
    [InlineData("\\int\\limits_0^1", "<munderover><mo>∫</mo><mn>0</mn><mn>1</mn></munderover>")]
    [InlineData("\\sum\\nolimits_i", "<msub><mo movablelimits=\"true\">∑</mo><mi>i</mi></msub>")]
    [InlineData("\\log x", "<mrow><mi>log</mi>" + Thin + "<mi>x</mi></mrow>")]
    [InlineData("\\log_2 n", "<mrow><msub><mi>log</mi><mn>2</mn></msub>" + Thin + "<mi>n</mi></mrow>")]
    [InlineData("\\exp(x)", "<mrow><mi>exp</mi>" + Open + "<mi>x</mi>" + Close + "</mrow>")]
    [InlineData("\\exp \\left(x\\right)", "<mrow><mi>exp</mi><mrow><mo fence=\"true\" form=\"prefix\" stretchy=\"true\">(</mo><mi>x</mi><mo fence=\"true\" form=\"postfix\" stretchy=\"true\">)</mo></mrow></mrow>")]
    [InlineData("\\max_{j} s_j", "<mrow><munder><mo movablelimits=\"true\" lspace=\"0em\" rspace=\"0em\">max</mo><mi>j</mi></munder>" + Thin + "<msub><mi>s</mi><mi>j</mi></msub></mrow>")]
    [InlineData("\\min(a, b)", "<mrow><mi>min</mi>" + Open + "<mi>a</mi><mo>,</mo><mi>b</mi>" + Close + "</mrow>")]
    [InlineData("\\arg\\max_i p_i", "<mrow><munder><mo movablelimits=\"true\" lspace=\"0em\" rspace=\"0em\">arg\u2009max</mo><mi>i</mi></munder>" + Thin + "<msub><mi>p</mi><mi>i</mi></msub></mrow>")]
    [InlineData("\\lim_{n \\to \\infty}", "<munder><mo movablelimits=\"true\" lspace=\"0em\" rspace=\"0em\">lim</mo><mrow><mi>n</mi><mo>→</mo><mi>∞</mi></mrow></munder>")]
    [InlineData("\\operatorname{softmax}(z)", "<mrow><mi>softmax</mi>" + Open + "<mi>z</mi>" + Close + "</mrow>")]
    [InlineData("\\operatorname*{arg\\,max}_i", "<munder><mo movablelimits=\"true\" lspace=\"0em\" rspace=\"0em\">arg\u2009max</mo><mi>i</mi></munder>")]
    // fonts and text
    [InlineData("\\mathrm{softmax}(x)", "<mrow><mi>softmax</mi>" + Open + "<mi>x</mi>" + Close + "</mrow>")]
    [InlineData("\\mathrm{d}x", "<mrow><mi mathvariant=\"normal\">d</mi><mi>x</mi></mrow>")]
    [InlineData("\\mathbf{W}_q", "<msub><mi>𝐖</mi><mi>q</mi></msub>")]
    [InlineData("\\mathbf{0}", "<mn>𝟎</mn>")]
    [InlineData("\\mathbf{xy}", "<mrow><mi>𝐱</mi><mi>𝐲</mi></mrow>")]
    [InlineData("\\boldsymbol{\\alpha}", "<mi>𝜶</mi>")]
    [InlineData("\\mathcal{L}", "<mi>ℒ</mi>")]
    [InlineData("\\mathcal{O}(n)", "<mrow><mi>𝒪</mi>" + Open + "<mi>n</mi>" + Close + "</mrow>")]
    [InlineData("\\mathbb{E}", "<mi>𝔼</mi>")]
    [InlineData("\\mathbb R", "<mi>ℝ</mi>")]
    [InlineData("\\mathbb{1}", "<mn>𝟙</mn>")]
    [InlineData("x \\in \\mathbb{R}^{n \\times d}", "<mrow><mi>x</mi><mo>∈</mo><msup><mi>ℝ</mi><mrow><mi>n</mi><mo>×</mo><mi>d</mi></mrow></msup></mrow>")]
    [InlineData("\\text{if } x > 0", "<mrow><mtext>if\u00A0</mtext><mi>x</mi><mo>&gt;</mo><mn>0</mn></mrow>")]
    [InlineData("\\text{a < b & c}", "<mtext>a &lt; b &amp; c</mtext>")]
    [InlineData("\\textbf{x}", "<mtext style=\"font-weight:bold\">x</mtext>")]
    // spacing
    [InlineData("a\\,b", "<mrow><mi>a</mi>" + Thin + "<mi>b</mi></mrow>")]
    [InlineData("a \\quad b", "<mrow><mi>a</mi><mspace width=\"1em\"></mspace><mi>b</mi></mrow>")]
    [InlineData("a~b", "<mrow><mi>a</mi><mspace width=\"0.3333em\"></mspace><mi>b</mi></mrow>")]
    // accents
    [InlineData("\\hat{y}", "<mover accent=\"true\"><mi>y</mi><mo stretchy=\"false\">^</mo></mover>")]
    [InlineData("\\tilde x", "<mover accent=\"true\"><mi>x</mi><mo stretchy=\"false\">~</mo></mover>")]
    [InlineData("\\bar{x}", "<mover accent=\"true\"><mi>x</mi><mo stretchy=\"false\">‾</mo></mover>")]
    [InlineData("\\vec{v}", "<mover accent=\"true\"><mi>v</mi><mo stretchy=\"false\">→</mo></mover>")]
    [InlineData("\\widehat{xy}", "<mover accent=\"true\"><mrow><mi>x</mi><mi>y</mi></mrow><mo stretchy=\"true\">^</mo></mover>")]
    [InlineData("\\underbrace{a+b}_{n}", "<munder><munder accentunder=\"true\"><mrow><mi>a</mi><mo>+</mo><mi>b</mi></mrow><mo stretchy=\"true\">⏟</mo></munder><mi>n</mi></munder>")]
    // style
    [InlineData("\\color{red} x", "<mstyle mathcolor=\"red\"><mi>x</mi></mstyle>")]
    [InlineData("\\displaystyle \\sum_i x", "<mstyle displaystyle=\"true\"><munder><mo movablelimits=\"true\">∑</mo><mi>i</mi></munder><mi>x</mi></mstyle>")]
    public void Converts(string tex, string mathml) => Assert.Equal(mathml, TexToMathML.Convert(tex));

    [Fact]
    public void A_math_element_keeps_the_tex_as_an_escaped_annotation()
    {
        Assert.Equal("<math display=\"inline\"><semantics><mi>x</mi><annotation encoding=\"application/x-tex\">x</annotation></semantics></math>",
                     TexToMathML.ToMathElement(" x ", display: false));
        Assert.Equal("<math display=\"block\"><semantics><mrow><mi>a</mi><mo>&lt;</mo><mi>b</mi></mrow><annotation encoding=\"application/x-tex\">a&lt;b</annotation></semantics></math>",
                     TexToMathML.ToMathElement("a<b", display: true));
    }
}
