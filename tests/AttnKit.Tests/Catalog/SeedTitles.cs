using System.Text.RegularExpressions;

namespace AttnKit.Tests.Catalog;

/// <summary>A title in a seed file: the file's three-digit prefix, the 1-based line, the title.</summary>
internal sealed record SeedTitle(string File, int Line, string Title);

/// <summary>
/// Reads the paper titles out of the seed documents (<c>shared/seeds/*.txt</c>), independently of the catalog. Two
/// layouts occur, told apart by their first line:
/// - a newsletter list: two boilerplate lines, then a title line and an abstract line, alternating; the first title
///   has the word "Subscribe" glued in front of it;
/// - a Hugging Face daily-papers page ("new" first): a header ending with a date, then per paper a title, a blank line,
///   the abstract, and usually an author line ("• N authors" or an organisation), a "·" line and a date; some papers
///   lack the last three, and a date may carry a vote count or no year.
/// Every title found is checked to look like one (shorter than its abstract), so a layout change fails loudly.
/// </summary>
internal static partial class SeedTitles
{
    [GeneratedRegex(@"^[A-Z][a-z]{2} \d{1,2}(, \d{4})?( \d+)?$")] private static partial Regex DateLine();

    /// <summary>
    /// The seeds folder: <c>ATTN_SEEDS_DIR</c> when set, else <c>shared/seeds</c> beside the repository (as CI clones it),
    /// else inside it; null when there is none.
    /// </summary>
    public static string? Folder(string repositoryRoot)
    {
        var configured = Environment.GetEnvironmentVariable("ATTN_SEEDS_DIR");
        if (!string.IsNullOrWhiteSpace(configured)) return Directory.Exists(configured) ? configured : null;
        foreach (var candidate in new[] { Path.Combine(repositoryRoot, "..", "shared", "seeds"), Path.Combine(repositoryRoot, "shared", "seeds") })
            if (Directory.Exists(candidate) && Directory.EnumerateFiles(candidate, "*.txt").Any()) return Path.GetFullPath(candidate);
        return null;
    }

    /// <summary>Every title of every seed file in the folder, file by file, in order.</summary>
    public static IReadOnlyList<SeedTitle> Read(string folder)
    {
        var titles = new List<SeedTitle>();
        foreach (var path in Directory.EnumerateFiles(folder, "*.txt").Order(StringComparer.Ordinal))
        {
            var file = Path.GetFileName(path)[..3];
            var lines = File.ReadAllText(path).ReplaceLineEndings("\n").Split('\n').ToList();
            if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
            var found = lines.Count > 0 && lines[0].Trim() == "new" ? DailyPapers(file, lines) : Alternating(file, lines);
            Assert.True(found.Count > 0, $"seed {file}: no titles found");
            titles.AddRange(found.Select(f => f.Title));
        }
        return titles;
    }

    private static List<(SeedTitle Title, string Abstract)> Alternating(string file, List<string> lines)
    {
        Assert.True(lines.Count >= 4 && lines[0].StartsWith("Get trending papers", StringComparison.Ordinal) && lines[1].StartsWith("Get trending papers", StringComparison.Ordinal),
            $"seed {file}: expected two newsletter lines, then titles and abstracts");
        Assert.True(lines.Count % 2 == 0, $"seed {file}: {lines.Count} lines, expected two boilerplate lines and title/abstract pairs");
        var found = new List<(SeedTitle Title, string Abstract)>();
        for (int i = 2; i + 1 < lines.Count; i += 2)
        {
            var title = lines[i];
            if (i == 2 && title.StartsWith("Subscribe", StringComparison.Ordinal)) title = title["Subscribe".Length..];
            found.Add(Checked(file, i + 1, title, lines[i + 1]));
        }
        return found;
    }

    private static List<(SeedTitle Title, string Abstract)> DailyPapers(string file, List<string> lines)
    {
        var nonBlank = lines.Select((text, i) => (Text: text.Trim(), Line: i + 1)).Where(l => l.Text.Length > 0).ToList();
        int header = nonBlank.FindIndex(l => l.Text == "byAK and the research community");
        Assert.True(header >= 0 && header + 1 < nonBlank.Count && DateLine().IsMatch(nonBlank[header + 1].Text), $"seed {file}: expected the daily-papers header ending with a date");
        var found = new List<(SeedTitle Title, string Abstract)>();
        int k = header + 2;
        while (k < nonBlank.Count)
        {
            Assert.True(k + 1 < nonBlank.Count, $"seed {file}, line {nonBlank[k].Line}: a title without an abstract");
            var (title, line) = nonBlank[k];
            Assert.True(string.IsNullOrWhiteSpace(lines[line]), $"seed {file}, line {line}: expected a blank line after the title");
            found.Add(Checked(file, line, lines[line - 1], nonBlank[k + 1].Text));
            k += 2;
            if (k + 1 < nonBlank.Count && nonBlank[k + 1].Text == "·")            // author line, "·", date
            {
                k += 2;
                if (k < nonBlank.Count && DateLine().IsMatch(nonBlank[k].Text)) k++;
            }
        }
        return found;
    }

    private static (SeedTitle Title, string Abstract) Checked(string file, int line, string title, string @abstract)
    {
        Assert.True(title.Trim().Length > 0 && title.Length < 300 && @abstract.Length > title.Length,
            $"seed {file}, line {line}: '{Short(title)}' does not look like a title followed by its abstract ('{Short(@abstract)}')");
        return (new SeedTitle(file, line, title), @abstract);
    }

    private static string Short(string s) => s.Length <= 80 ? s : s[..80] + "…";
}
