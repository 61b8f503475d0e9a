namespace AttnKit.Catalog;

/// <summary>What a paper contributes, as the catalog classifies it.</summary>
public enum PaperClass
{
    /// <summary>Defines an attention mechanism (a family of the kit).</summary>
    Family,
    /// <summary>Defines a KV-cache strategy.</summary>
    Cache,
    /// <summary>Observes a behaviour of attention (sinks, redundant heads, interpretability).</summary>
    Phenomenon,
    /// <summary>A system: kernels, accelerators, parallel training.</summary>
    System,
    /// <summary>Out of the kit's scope: attention applied to a domain, or not about attention; the row says why.</summary>
    Other,
}

/// <summary>Where the kit stands on a paper.</summary>
public enum CoverageStatus
{
    /// <summary>A notebook section shows it (and usually a library type implements it).</summary>
    Covered,
    /// <summary>A library type implements it; no notebook section yet.</summary>
    LibraryOnly,
    /// <summary>In scope, not implemented yet.</summary>
    NotYet,
    /// <summary>Class <see cref="PaperClass.Other"/>: out of the kit's scope.</summary>
    OutOfScope,
}

/// <summary>A title's place in the seed documents: the file's three-digit prefix (e.g. "003") and the 1-based line.</summary>
public sealed record SeedLocation(string File, int Line)
{
    /// <inheritdoc/>
    public override string ToString() => $"{File}:{Line}";
}

/// <summary>A notebook section: the notebook file (e.g. "00-start-here.ipynb") and a heading's anchor in it.</summary>
public sealed record NotebookSection(string Notebook, string Anchor)
{
    /// <summary>The site page of the section, relative to the site's root: "00-start-here.html#a-first-attention".</summary>
    public string PageHref => System.IO.Path.ChangeExtension(Notebook, ".html") + "#" + Anchor;

    /// <inheritdoc/>
    public override string ToString() => $"{Notebook}#{Anchor}";
}

/// <summary>
/// One paper of the catalog (a row of <c>data/papers.csv</c>).
/// </summary>
/// <param name="Id">A stable slug, unique in the catalog.</param>
/// <param name="Title">The title exactly as it appears in the seeds.</param>
/// <param name="Year">The year of its first version, when known.</param>
/// <param name="Arxiv">The arXiv id (e.g. "1706.03762"), when known.</param>
/// <param name="Seeds">Every place the title appears in the seed files.</param>
/// <param name="Class">What it contributes.</param>
/// <param name="Group">Its implementation group (F1–F18, K1–K8, P1–P2); null for <see cref="PaperClass.Other"/>.</param>
/// <param name="Summary">One sentence on what it computes or shows.</param>
/// <param name="LibraryTypes">Full names of the AttnKit types that implement it.</param>
/// <param name="Notebook">The notebook sections that show it.</param>
/// <param name="Reason">For <see cref="PaperClass.Other"/>: why it is out of scope.</param>
/// <param name="Line">The line of the CSV on which the row starts.</param>
public sealed record Paper(
    string Id, string Title, int? Year, string? Arxiv, IReadOnlyList<SeedLocation> Seeds, PaperClass Class, string? Group,
    string Summary, IReadOnlyList<string> LibraryTypes, IReadOnlyList<NotebookSection> Notebook, string? Reason, int Line)
{
    /// <summary>Covered when a notebook section shows it, library only when only a type implements it, not yet, or out of scope (class other).</summary>
    public CoverageStatus Status =>
        Class == PaperClass.Other ? CoverageStatus.OutOfScope
        : Notebook.Count > 0 ? CoverageStatus.Covered
        : LibraryTypes.Count > 0 ? CoverageStatus.LibraryOnly
        : CoverageStatus.NotYet;

    /// <summary>A family or a cache strategy: what the kit implements.</summary>
    public bool IsFamilyOrCache => Class is PaperClass.Family or PaperClass.Cache;

    /// <summary>A phenomenon or a system: what the kit shows or measures.</summary>
    public bool IsPhenomenonOrSystem => Class is PaperClass.Phenomenon or PaperClass.System;

    /// <summary>The arXiv abstract page, when the id is known.</summary>
    public string? ArxivUrl => Arxiv is null ? null : "https://arxiv.org/abs/" + Arxiv;

    /// <summary>The class as the CSV writes it: "family", "cache", "phenomenon", "system", "other".</summary>
    public string ClassName => PaperClasses.Name(Class);

    /// <summary>The status in words: "covered", "library only", "not yet", "out of scope".</summary>
    public string StatusName => PaperClasses.Name(Status);
}

/// <summary>The words the CSV and the reports use for classes and statuses.</summary>
public static class PaperClasses
{
    /// <summary>"family", "cache", "phenomenon", "system" or "other".</summary>
    public static string Name(PaperClass c) => c.ToString().ToLowerInvariant();

    /// <summary>"covered", "library only", "not yet" or "out of scope".</summary>
    public static string Name(CoverageStatus s) => s switch
    {
        CoverageStatus.Covered => "covered",
        CoverageStatus.LibraryOnly => "library only",
        CoverageStatus.NotYet => "not yet",
        _ => "out of scope",
    };

    /// <summary>Parses a class as the CSV writes it (lower case); null when it is none of them.</summary>
    public static PaperClass? Parse(string text) => text switch
    {
        "family" => PaperClass.Family,
        "cache" => PaperClass.Cache,
        "phenomenon" => PaperClass.Phenomenon,
        "system" => PaperClass.System,
        "other" => PaperClass.Other,
        _ => null,
    };
}
