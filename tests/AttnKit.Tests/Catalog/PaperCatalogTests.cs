using AttnKit.Catalog;

namespace AttnKit.Tests.Catalog;

/// <summary>
/// The repository's catalog, <c>data/papers.csv</c>, against what it claims: every library type it names exists in
/// AttnKit, every notebook section exists in its notebook, its titles are exactly the seed papers (each once), and the
/// coverage it gives is counted from its rows.
/// </summary>
public class PaperCatalogTests
{
    private static readonly string Root = RepositoryRoot();
    private static readonly PaperCatalog Catalog = PaperCatalog.Load(Path.Combine(Root, PaperCatalog.RelativePath));

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AttnNotebooks.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the tests do not run inside the repository");
    }

    [Fact]
    public void Find_locates_the_repository_catalog_from_a_folder_inside_it()
    {
        var expected = Path.GetFullPath(Path.Combine(Root, PaperCatalog.RelativePath));
        Assert.Equal(expected, PaperCatalog.Find(Path.Combine(Root, "notebooks")));
        Assert.Equal(expected, PaperCatalog.Find(Path.GetTempPath()));       // not above /tmp: found above the kit's build folder
        Assert.Equal(expected, Catalog.SourcePath);
    }

    [Fact]
    public void Every_library_type_named_exists_in_AttnKit()
    {
        var kit = typeof(PaperCatalog).Assembly;
        var missing = Catalog.Papers.SelectMany(p => p.LibraryTypes.Where(t => kit.GetType(t) is not { IsPublic: true }).Select(t => $"{p.Id} (line {p.Line}): {t}")).ToList();
        Assert.True(missing.Count == 0, $"types named in {PaperCatalog.RelativePath} that AttnKit does not have (public, by full name):\n{string.Join("\n", missing)}");
        Assert.Contains(Catalog.Papers, p => p.LibraryTypes.Count > 0);
    }

    [Fact]
    public void Every_notebook_section_named_exists_in_its_notebook()
    {
        var problems = new List<string>();
        var anchors = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var paper in Catalog.Papers)
        {
            foreach (var section in paper.Notebook)
            {
                var path = Path.Combine(Root, "notebooks", section.Notebook);
                if (!File.Exists(path)) { problems.Add($"{paper.Id} (line {paper.Line}): no notebook notebooks/{section.Notebook}"); continue; }
                if (!anchors.TryGetValue(path, out var ids)) anchors[path] = ids = Anchors.OfNotebook(path);
                if (!ids.Contains(section.Anchor))
                    problems.Add($"{paper.Id} (line {paper.Line}): {section} is not a heading of the notebook; its anchors: {string.Join(", ", ids)}");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Contains(Catalog.Papers, p => p.Notebook.Count > 0);
    }

    [Fact]
    public void Every_title_is_a_seed_title_and_every_seed_paper_is_a_row()
    {
        var seeds = SeedsOrSkip();
        var distinct = seeds.Select(s => s.Title).ToHashSet(StringComparer.Ordinal);
        var titles = Catalog.Papers.Select(p => p.Title).ToHashSet(StringComparer.Ordinal);
        var notInSeeds = Catalog.Papers.Where(p => !distinct.Contains(p.Title)).Select(p => $"{p.Id} (line {p.Line}): '{p.Title}'").ToList();
        var missing = seeds.Where(s => !titles.Contains(s.Title)).Select(s => $"{s.File}:{s.Line}: '{s.Title}'").ToList();
        Assert.True(notInSeeds.Count == 0, $"titles that are no seed title, exactly:\n{string.Join("\n", notInSeeds)}");
        Assert.True(missing.Count == 0, $"seed papers with no row:\n{string.Join("\n", missing)}");
        Assert.Equal(distinct.Count, Catalog.Count);
    }

    [Fact]
    public void A_paper_in_several_seeds_is_one_row_that_lists_every_place()
    {
        var seeds = SeedsOrSkip();
        var byTitle = Catalog.Papers.ToDictionary(p => p.Title, StringComparer.Ordinal);
        var problems = new List<string>();
        foreach (var group in seeds.GroupBy(s => s.Title, StringComparer.Ordinal))
        {
            if (!byTitle.TryGetValue(group.Key, out var paper)) continue;   // reported by the test above
            var found = group.Select(s => new SeedLocation(s.File, s.Line)).OrderBy(s => s.File).ThenBy(s => s.Line).ToList();
            var listed = paper.Seeds.OrderBy(s => s.File).ThenBy(s => s.Line).ToList();
            if (!found.SequenceEqual(listed))
                problems.Add($"{paper.Id} (line {paper.Line}): seeds column says {string.Join(';', listed)}, the seeds have the title at {string.Join(';', found)}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
        Assert.Contains(Catalog.Papers, p => p.Seeds.Count > 1);
    }

    [Fact]
    public void Coverage_of_family_and_cache_rows_per_group_is_counted_from_the_rows()
    {
        var coverage = Catalog.Coverage();
        var report = "Coverage of data/papers.csv (family+cache and phenomenon+system rows per group: rows, with a library type, with a notebook section):\n" + coverage.ToText();
        TestContext.Current.TestOutputHelper?.WriteLine(report);
        TestContext.Current.SendDiagnosticMessage(report);

        Assert.Equal(Catalog.Count, coverage.Papers);
        Assert.Equal(Catalog.Count(p => p.IsFamilyOrCache), coverage.FamilyAndCache.Rows);
        Assert.Equal(Catalog.Count(p => p.IsFamilyOrCache && p.LibraryTypes.Count > 0), coverage.FamilyAndCache.WithLibraryType);
        Assert.Equal(Catalog.Count(p => p.IsFamilyOrCache && p.Notebook.Count > 0), coverage.FamilyAndCache.WithNotebook);
        Assert.Equal(coverage.FamilyAndCache.Rows, coverage.Groups.Sum(g => g.FamilyAndCache.Rows));
        Assert.Equal(coverage.PhenomenonAndSystem.Rows, coverage.Groups.Sum(g => g.PhenomenonAndSystem.Rows));
        Assert.Equal(Catalog.Count, coverage.FamilyAndCache.Rows + coverage.PhenomenonAndSystem.Rows + coverage.OutOfScope);
        foreach (var g in coverage.Groups)
        {
            var c = g.FamilyAndCache;
            Assert.Equal(c.Rows, c.Covered + c.LibraryOnly + c.NotYet);
            Assert.Equal(Catalog.InGroup(g.Group).Count(p => p.IsFamilyOrCache), c.Rows);
        }
        Assert.Equal(PaperGroups.Codes.Where(code => Catalog.Any(p => p.Group == code)), coverage.Groups.Select(g => g.Group));
    }

    private static IReadOnlyList<SeedTitle> SeedsOrSkip()
    {
        var folder = SeedTitles.Folder(Root);
        if (folder is null)
            Assert.Skip($"the seed papers are not here: expected {Path.GetFullPath(Path.Combine(Root, "..", "shared", "seeds"))} (the repository cloned with shared/ beside it) or ATTN_SEEDS_DIR");
        return SeedTitles.Read(folder);
    }
}
