namespace AttnNotebooks.Runner.Site;

/// <summary>How a notebook's run went, for the index page: passed or failed, how long it took, and a short reason.</summary>
public sealed record NotebookStatus(bool Passed, double? Seconds = null, string? Message = null);

/// <summary>A page of the site that is not a notebook (the paper catalog ...), linked from the index: its path relative to the site, its title, and a line on what it holds.</summary>
public sealed record SiteLink(string Href, string Title, string? Description = null);

/// <summary>What <see cref="SiteWriter"/> writes around the notebooks.</summary>
public sealed class SiteOptions
{
    /// <summary>The site's title: the index page's heading and every page's header.</summary>
    public string Title { get; init; } = "AttnNotebooks";

    /// <summary>Per notebook, keyed by its relative name (as given to <see cref="SiteWriter.Write"/>): the run's status. Optional.</summary>
    public IReadOnlyDictionary<string, NotebookStatus>? Statuses { get; init; }

    /// <summary>Other pages of the site the index links to, above the notebooks (for example the paper catalog). Optional.</summary>
    public IReadOnlyList<SiteLink>? Links { get; init; }

    /// <summary>A line at the foot of every page (for example what ran, where and when). Optional.</summary>
    public string? Footer { get; init; }
}
