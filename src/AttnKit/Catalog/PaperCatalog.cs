using System.Collections;

namespace AttnKit.Catalog;

/// <summary>
/// The paper catalog, <c>data/papers.csv</c>: every seed paper the kit is built from, its class and group, one sentence
/// on what it computes or shows, and where the kit covers it (library types by full name, notebook sections as
/// <c>file.ipynb#anchor</c>), or, for class other, why it is out of scope.
///
/// 1. <see cref="Find"/> locates the CSV from the current folder, or from the kit's build folder, upwards;
/// 2. <see cref="Load(string)"/> reads it (RFC 4180, <see cref="Csv"/>) and checks every row and the whole: one header,
///    eleven fields a row, typed fields, unique ids and titles;
/// 3. <see cref="Coverage"/> counts, per group, what the kit covers, from the rows themselves.
/// </summary>
public sealed class PaperCatalog : IReadOnlyList<Paper>
{
    /// <summary>Where the catalog lives in the repository.</summary>
    public const string RelativePath = "data/papers.csv";

    private readonly IReadOnlyList<Paper> _papers;
    private readonly Dictionary<string, Paper> _byId;

    private PaperCatalog(IReadOnlyList<Paper> papers, string? sourcePath)
    {
        _papers = papers;
        _byId = papers.ToDictionary(p => p.Id, StringComparer.Ordinal);
        SourcePath = sourcePath;
    }

    /// <summary>The catalog's columns, in order.</summary>
    public static IReadOnlyList<string> Columns => PaperRow.Columns;

    /// <summary>The full path of the file it was loaded from; null when parsed from text.</summary>
    public string? SourcePath { get; }

    /// <summary>The papers, in the file's order.</summary>
    public IReadOnlyList<Paper> Papers => _papers;

    /// <inheritdoc/>
    public int Count => _papers.Count;

    /// <inheritdoc/>
    public Paper this[int index] => _papers[index];

    /// <summary>The paper with this id.</summary>
    /// <exception cref="ArgumentException">No paper has it.</exception>
    public Paper this[string id] => _byId.TryGetValue(id, out var p) ? p : throw new ArgumentException($"{nameof(id)}: no paper in the catalog has the id '{id}'", nameof(id));

    /// <summary>The paper with this id, or null.</summary>
    public Paper? ById(string id) => _byId.GetValueOrDefault(id);

    /// <inheritdoc/>
    public IEnumerator<Paper> GetEnumerator() => _papers.GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Reads and checks the catalog at <see cref="Find"/>'s path.</summary>
    public static PaperCatalog Load() => Load(Find());

    /// <summary>Reads and checks the catalog at <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">No file there.</exception>
    /// <exception cref="ArgumentException">A malformed row or header; the message names the line.</exception>
    public static PaperCatalog Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = System.IO.Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"no paper catalog at {full}", full);
        return Parse(File.ReadAllText(full), System.IO.Path.GetFileName(full), full);
    }

    /// <summary>Parses catalog text; <paramref name="source"/> names it in error messages.</summary>
    /// <exception cref="ArgumentException">A malformed row or header, a repeated id or title; the message names the line.</exception>
    public static PaperCatalog Parse(string text, string source = "papers.csv") => Parse(text, source, null);

    private static PaperCatalog Parse(string text, string source, string? sourcePath)
    {
        ArgumentNullException.ThrowIfNull(text);
        var records = Csv.Parse(text, source);
        if (records.Count == 0) throw new ArgumentException($"{source}: empty; expected the header '{string.Join(',', Columns)}' and one row per paper");
        PaperRow.CheckHeader(records[0], source);
        var papers = new List<Paper>(records.Count - 1);
        var ids = new Dictionary<string, Paper>(StringComparer.Ordinal);
        var titles = new Dictionary<string, Paper>(StringComparer.Ordinal);
        foreach (var record in records.Skip(1))
        {
            var paper = PaperRow.Parse(record, source);
            if (ids.TryGetValue(paper.Id, out var sameId))
                throw new ArgumentException($"{source}, line {paper.Line}: id '{paper.Id}' is already used on line {sameId.Line}");
            if (titles.TryGetValue(paper.Title, out var sameTitle))
                throw new ArgumentException($"{source}, line {paper.Line} (id '{paper.Id}'): the title is already the row of line {sameTitle.Line} (id '{sameTitle.Id}'); a paper in several seeds is one row, with every seed place");
            ids.Add(paper.Id, paper);
            titles.Add(paper.Title, paper);
            papers.Add(paper);
        }
        return new PaperCatalog(papers, sourcePath);
    }

    /// <summary>
    /// The path of <c>data/papers.csv</c>: searched in <paramref name="startDirectory"/> (default: the current folder) and
    /// each folder above it, then in the folder of the kit's assembly (its build folder) and each folder above.
    /// </summary>
    /// <exception cref="FileNotFoundException">Found in neither place.</exception>
    public static string Find(string? startDirectory = null) =>
        TryFind(startDirectory) ?? throw new FileNotFoundException(
            $"could not find {RelativePath} in {System.IO.Path.GetFullPath(startDirectory ?? Environment.CurrentDirectory)} or above it, nor above the kit's build folder {KitFolder() ?? "(unknown)"}; run from inside the repository or give the path");

    /// <summary>As <see cref="Find"/>, or null when there is no catalog.</summary>
    public static string? TryFind(string? startDirectory = null)
    {
        foreach (var start in new[] { startDirectory ?? Environment.CurrentDirectory, KitFolder() })
        {
            if (string.IsNullOrEmpty(start)) continue;
            for (var dir = new DirectoryInfo(System.IO.Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
            {
                var candidate = System.IO.Path.Combine(dir.FullName, "data", "papers.csv");
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }

    private static string? KitFolder()
    {
        var location = typeof(PaperCatalog).Assembly.Location;
        return string.IsNullOrEmpty(location) ? AppContext.BaseDirectory : System.IO.Path.GetDirectoryName(location);
    }

    /// <summary>
    /// The papers whose title, id, arXiv id, group, summary or library types contain <paramref name="text"/>
    /// (ignoring case), or whose class or status is that word; every paper for an empty text.
    /// </summary>
    public IReadOnlyList<Paper> Search(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim();
        if (t.Length == 0) return _papers;
        bool Has(string? s) => s?.Contains(t, StringComparison.OrdinalIgnoreCase) == true;
        return _papers.Where(p => Has(p.Title) || Has(p.Id) || Has(p.Arxiv) || Has(p.Summary) || p.LibraryTypes.Any(Has)
                                  || string.Equals(p.Group, t, StringComparison.OrdinalIgnoreCase)
                                  || string.Equals(p.ClassName, t, StringComparison.OrdinalIgnoreCase)
                                  || string.Equals(p.StatusName, t, StringComparison.OrdinalIgnoreCase)).ToList();
    }

    /// <summary>The papers of one group (e.g. "F2"), in the file's order.</summary>
    public IReadOnlyList<Paper> InGroup(string group) => _papers.Where(p => p.Group == group).ToList();

    /// <summary>What the kit covers, per group and in total, counted from the rows.</summary>
    public CatalogCoverage Coverage() => CatalogCoverage.Of(_papers);
}
