namespace AttnNotebooks.Runner.Site;

/// <summary>How a TeX atom spaces and takes scripts (a subset of TeX's atom classes).</summary>
internal enum TexKind { Ord, Bin, Rel, Open, Close, Punct, LargeOp, Function, Space }

/// <summary>The symbol tables of <see cref="TexToMathML"/>: command name → Unicode character and class.</summary>
internal static class TexSymbols
{
    /// <summary>Greek letters (lower case italic, upper case upright as in TeX).</summary>
    public static readonly Dictionary<string, string> Greek = new()
    {
        ["alpha"] = "α", ["beta"] = "β", ["gamma"] = "γ", ["delta"] = "δ", ["epsilon"] = "ϵ", ["varepsilon"] = "ε",
        ["zeta"] = "ζ", ["eta"] = "η", ["theta"] = "θ", ["vartheta"] = "ϑ", ["iota"] = "ι", ["kappa"] = "κ",
        ["lambda"] = "λ", ["mu"] = "μ", ["nu"] = "ν", ["xi"] = "ξ", ["omicron"] = "ο", ["pi"] = "π", ["varpi"] = "ϖ",
        ["rho"] = "ρ", ["varrho"] = "ϱ", ["sigma"] = "σ", ["varsigma"] = "ς", ["tau"] = "τ", ["upsilon"] = "υ",
        ["phi"] = "ϕ", ["varphi"] = "φ", ["chi"] = "χ", ["psi"] = "ψ", ["omega"] = "ω",
        ["Gamma"] = "Γ", ["Delta"] = "Δ", ["Theta"] = "Θ", ["Lambda"] = "Λ", ["Xi"] = "Ξ", ["Pi"] = "Π",
        ["Sigma"] = "Σ", ["Upsilon"] = "Υ", ["Phi"] = "Φ", ["Psi"] = "Ψ", ["Omega"] = "Ω",
    };

    /// <summary>Operators and ordinary symbols: character and class. Ord symbols become &lt;mi&gt;, the others &lt;mo&gt;.</summary>
    public static readonly Dictionary<string, (string Char, TexKind Kind)> Symbols = new()
    {
        // ordinary symbols
        ["infty"] = ("∞", TexKind.Ord), ["partial"] = ("∂", TexKind.Ord), ["nabla"] = ("∇", TexKind.Ord), ["ell"] = ("ℓ", TexKind.Ord),
        ["emptyset"] = ("∅", TexKind.Ord), ["varnothing"] = ("∅", TexKind.Ord), ["top"] = ("⊤", TexKind.Ord), ["bot"] = ("⊥", TexKind.Ord),
        ["prime"] = ("′", TexKind.Ord), ["hbar"] = ("ℏ", TexKind.Ord), ["aleph"] = ("ℵ", TexKind.Ord), ["Re"] = ("ℜ", TexKind.Ord),
        ["Im"] = ("ℑ", TexKind.Ord), ["angle"] = ("∠", TexKind.Ord), ["triangle"] = ("△", TexKind.Ord), ["dagger"] = ("†", TexKind.Ord),
        ["ddagger"] = ("‡", TexKind.Ord), ["checkmark"] = ("✓", TexKind.Ord), ["forall"] = ("∀", TexKind.Ord), ["exists"] = ("∃", TexKind.Ord),
        ["neg"] = ("¬", TexKind.Ord), ["lnot"] = ("¬", TexKind.Ord), ["imath"] = ("ı", TexKind.Ord), ["jmath"] = ("ȷ", TexKind.Ord),
        ["#"] = ("#", TexKind.Ord), ["$"] = ("$", TexKind.Ord), ["%"] = ("%", TexKind.Ord), ["_"] = ("_", TexKind.Ord),
        ["&"] = ("&", TexKind.Ord), ["|"] = ("‖", TexKind.Ord), ["Vert"] = ("‖", TexKind.Ord), ["vert"] = ("|", TexKind.Ord),
        ["ldots"] = ("…", TexKind.Ord), ["dots"] = ("…", TexKind.Ord), ["cdots"] = ("⋯", TexKind.Ord), ["vdots"] = ("⋮", TexKind.Ord),
        ["ddots"] = ("⋱", TexKind.Ord), ["dotsc"] = ("…", TexKind.Ord), ["dotsb"] = ("⋯", TexKind.Ord),
        // binary operators
        ["cdot"] = ("⋅", TexKind.Bin), ["times"] = ("×", TexKind.Bin), ["div"] = ("÷", TexKind.Bin), ["pm"] = ("±", TexKind.Bin),
        ["mp"] = ("∓", TexKind.Bin), ["ast"] = ("∗", TexKind.Bin), ["star"] = ("⋆", TexKind.Bin), ["circ"] = ("∘", TexKind.Bin),
        ["bullet"] = ("∙", TexKind.Bin), ["odot"] = ("⊙", TexKind.Bin), ["oplus"] = ("⊕", TexKind.Bin), ["otimes"] = ("⊗", TexKind.Bin),
        ["ominus"] = ("⊖", TexKind.Bin), ["oslash"] = ("⊘", TexKind.Bin), ["cup"] = ("∪", TexKind.Bin), ["cap"] = ("∩", TexKind.Bin),
        ["wedge"] = ("∧", TexKind.Bin), ["vee"] = ("∨", TexKind.Bin), ["land"] = ("∧", TexKind.Bin), ["lor"] = ("∨", TexKind.Bin),
        ["setminus"] = ("∖", TexKind.Bin), ["diamond"] = ("⋄", TexKind.Bin),
        // relations and arrows
        ["le"] = ("≤", TexKind.Rel), ["leq"] = ("≤", TexKind.Rel), ["ge"] = ("≥", TexKind.Rel), ["geq"] = ("≥", TexKind.Rel),
        ["ne"] = ("≠", TexKind.Rel), ["neq"] = ("≠", TexKind.Rel), ["approx"] = ("≈", TexKind.Rel), ["sim"] = ("∼", TexKind.Rel),
        ["simeq"] = ("≃", TexKind.Rel), ["cong"] = ("≅", TexKind.Rel), ["equiv"] = ("≡", TexKind.Rel), ["propto"] = ("∝", TexKind.Rel),
        ["in"] = ("∈", TexKind.Rel), ["notin"] = ("∉", TexKind.Rel), ["ni"] = ("∋", TexKind.Rel), ["subset"] = ("⊂", TexKind.Rel),
        ["subseteq"] = ("⊆", TexKind.Rel), ["supset"] = ("⊃", TexKind.Rel), ["supseteq"] = ("⊇", TexKind.Rel), ["ll"] = ("≪", TexKind.Rel),
        ["gg"] = ("≫", TexKind.Rel), ["prec"] = ("≺", TexKind.Rel), ["succ"] = ("≻", TexKind.Rel), ["preceq"] = ("⪯", TexKind.Rel),
        ["succeq"] = ("⪰", TexKind.Rel), ["perp"] = ("⊥", TexKind.Rel), ["parallel"] = ("∥", TexKind.Rel), ["mid"] = ("∣", TexKind.Rel),
        ["coloneqq"] = ("≔", TexKind.Rel), ["triangleq"] = ("≜", TexKind.Rel), ["doteq"] = ("≐", TexKind.Rel), ["models"] = ("⊨", TexKind.Rel),
        ["vdash"] = ("⊢", TexKind.Rel), ["to"] = ("→", TexKind.Rel), ["rightarrow"] = ("→", TexKind.Rel), ["leftarrow"] = ("←", TexKind.Rel),
        ["gets"] = ("←", TexKind.Rel), ["mapsto"] = ("↦", TexKind.Rel), ["Rightarrow"] = ("⇒", TexKind.Rel), ["Leftarrow"] = ("⇐", TexKind.Rel),
        ["Leftrightarrow"] = ("⇔", TexKind.Rel), ["leftrightarrow"] = ("↔", TexKind.Rel), ["iff"] = ("⟺", TexKind.Rel),
        ["implies"] = ("⟹", TexKind.Rel), ["impliedby"] = ("⟸", TexKind.Rel), ["longrightarrow"] = ("⟶", TexKind.Rel),
        ["longleftarrow"] = ("⟵", TexKind.Rel), ["longmapsto"] = ("⟼", TexKind.Rel), ["uparrow"] = ("↑", TexKind.Rel),
        ["downarrow"] = ("↓", TexKind.Rel), ["hookrightarrow"] = ("↪", TexKind.Rel), ["leadsto"] = ("⇝", TexKind.Rel),
        // punctuation
        ["colon"] = (":", TexKind.Punct),
    };

    /// <summary>Large operators: character and whether limits go under and over in display style.</summary>
    public static readonly Dictionary<string, (string Char, bool Limits)> LargeOps = new()
    {
        ["sum"] = ("∑", true), ["prod"] = ("∏", true), ["coprod"] = ("∐", true), ["bigcup"] = ("⋃", true), ["bigcap"] = ("⋂", true),
        ["bigoplus"] = ("⨁", true), ["bigotimes"] = ("⨂", true), ["bigodot"] = ("⨀", true), ["bigvee"] = ("⋁", true),
        ["bigwedge"] = ("⋀", true), ["int"] = ("∫", false), ["iint"] = ("∬", false), ["iiint"] = ("∭", false), ["oint"] = ("∮", false),
    };

    /// <summary>Named functions: whether they take limits (max, min, lim ...) or side scripts (log, exp ...).</summary>
    public static readonly Dictionary<string, bool> Functions = new()
    {
        ["arccos"] = false, ["arcsin"] = false, ["arctan"] = false, ["arg"] = false, ["cos"] = false, ["cosh"] = false,
        ["cot"] = false, ["coth"] = false, ["csc"] = false, ["deg"] = false, ["dim"] = false, ["exp"] = false, ["hom"] = false,
        ["ker"] = false, ["lg"] = false, ["ln"] = false, ["log"] = false, ["sec"] = false, ["sin"] = false, ["sinh"] = false,
        ["tan"] = false, ["tanh"] = false,
        ["det"] = true, ["gcd"] = true, ["inf"] = true, ["lim"] = true, ["liminf"] = true, ["limsup"] = true, ["max"] = true,
        ["min"] = true, ["Pr"] = true, ["sup"] = true,
    };

    /// <summary>Delimiters after <c>\left</c>, <c>\right</c>, <c>\big</c> ... and as plain commands.</summary>
    public static readonly Dictionary<string, (string Char, TexKind Kind)> Delimiters = new()
    {
        ["("] = ("(", TexKind.Open), [")"] = (")", TexKind.Close), ["["] = ("[", TexKind.Open), ["]"] = ("]", TexKind.Close),
        ["|"] = ("|", TexKind.Ord), ["/"] = ("/", TexKind.Ord), ["<"] = ("⟨", TexKind.Open), [">"] = ("⟩", TexKind.Close),
        ["\\{"] = ("{", TexKind.Open), ["\\}"] = ("}", TexKind.Close), ["\\lbrace"] = ("{", TexKind.Open), ["\\rbrace"] = ("}", TexKind.Close),
        ["\\lbrack"] = ("[", TexKind.Open), ["\\rbrack"] = ("]", TexKind.Close),
        ["\\langle"] = ("⟨", TexKind.Open), ["\\rangle"] = ("⟩", TexKind.Close), ["\\lvert"] = ("|", TexKind.Open), ["\\rvert"] = ("|", TexKind.Close),
        ["\\lVert"] = ("‖", TexKind.Open), ["\\rVert"] = ("‖", TexKind.Close), ["\\|"] = ("‖", TexKind.Ord), ["\\vert"] = ("|", TexKind.Ord),
        ["\\Vert"] = ("‖", TexKind.Ord), ["\\lfloor"] = ("⌊", TexKind.Open), ["\\rfloor"] = ("⌋", TexKind.Close),
        ["\\lceil"] = ("⌈", TexKind.Open), ["\\rceil"] = ("⌉", TexKind.Close), ["\\uparrow"] = ("↑", TexKind.Ord),
        ["\\downarrow"] = ("↓", TexKind.Ord), ["."] = ("", TexKind.Ord),
    };

    /// <summary>Accents: the mark and whether it stretches over its base.</summary>
    public static readonly Dictionary<string, (string Mark, bool Stretchy, bool Under)> Accents = new()
    {
        ["hat"] = ("^", false, false), ["widehat"] = ("^", true, false), ["tilde"] = ("~", false, false), ["widetilde"] = ("~", true, false),
        ["bar"] = ("‾", false, false), ["overline"] = ("‾", true, false), ["vec"] = ("→", false, false), ["overrightarrow"] = ("→", true, false),
        ["overleftarrow"] = ("←", true, false), ["dot"] = ("˙", false, false), ["ddot"] = ("¨", false, false), ["check"] = ("ˇ", false, false),
        ["breve"] = ("˘", false, false), ["acute"] = ("´", false, false), ["grave"] = ("`", false, false), ["mathring"] = ("˚", false, false),
        ["underline"] = ("_", true, true), ["overbrace"] = ("⏞", true, false), ["underbrace"] = ("⏟", true, true),
    };

    /// <summary>Spacing commands and their widths.</summary>
    public static readonly Dictionary<string, string> Spaces = new()
    {
        [","] = "0.1667em", [":"] = "0.2222em", [">"] = "0.2222em", [";"] = "0.2778em", ["!"] = "-0.1667em", [" "] = "0.25em",
        ["quad"] = "1em", ["qquad"] = "2em", ["enspace"] = "0.5em", ["thinspace"] = "0.1667em", ["medspace"] = "0.2222em",
        ["thickspace"] = "0.2778em", ["negthinspace"] = "-0.1667em",
    };

    /// <summary>The scale of <c>\big</c> and its family, in em.</summary>
    public static readonly Dictionary<string, string> BigSizes = new()
    {
        ["big"] = "1.2em", ["bigl"] = "1.2em", ["bigr"] = "1.2em", ["bigm"] = "1.2em",
        ["Big"] = "1.623em", ["Bigl"] = "1.623em", ["Bigr"] = "1.623em", ["Bigm"] = "1.623em",
        ["bigg"] = "2.047em", ["biggl"] = "2.047em", ["biggr"] = "2.047em", ["biggm"] = "2.047em",
        ["Bigg"] = "2.470em", ["Biggl"] = "2.470em", ["Biggr"] = "2.470em", ["Biggm"] = "2.470em",
    };
}
