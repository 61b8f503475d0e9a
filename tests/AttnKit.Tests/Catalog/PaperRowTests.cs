using AttnKit.Catalog;

namespace AttnKit.Tests.Catalog;

/// <summary>Rows of a small catalog text: typed fields, and a clear error naming the line for anything malformed.</summary>
public class PaperRowTests
{
    private const string Header = "id,title,year,arxiv,seeds,class,group,summary,library_types,notebook,reason\n";
    private const string Good = "sdpa,\"Attention, with a comma\",2017,1706.03762,003:83;004:9,family,F1,\"Says \"\"hi\"\".\",A.B;A.C,00-x.ipynb#a-b;01-y.ipynb#c,\n";

    [Fact]
    public void A_good_row_is_typed()
    {
        var catalog = PaperCatalog.Parse(Header + Good + "off,Off topic,,,000:5,other,,Something else.,,,\"not about attention,\nreally\"\n");
        Assert.Equal(2, catalog.Count);
        var p = catalog["sdpa"];
        Assert.Equal(("Attention, with a comma", 2017, "1706.03762", PaperClass.Family, "F1", "Says \"hi\"."), (p.Title, p.Year, p.Arxiv, p.Class, p.Group, p.Summary));
        Assert.Equal([new SeedLocation("003", 83), new SeedLocation("004", 9)], p.Seeds);
        Assert.Equal(["A.B", "A.C"], p.LibraryTypes);
        Assert.Equal([new NotebookSection("00-x.ipynb", "a-b"), new NotebookSection("01-y.ipynb", "c")], p.Notebook);
        Assert.Equal("00-x.html#a-b", p.Notebook[0].PageHref);
        Assert.Equal((CoverageStatus.Covered, "covered", "https://arxiv.org/abs/1706.03762"), (p.Status, p.StatusName, p.ArxivUrl));
        var off = catalog["off"];
        Assert.Equal((PaperClass.Other, (string?)null, (int?)null, CoverageStatus.OutOfScope, 3), (off.Class, off.Group, off.Year, off.Status, off.Line));
        Assert.Equal("not about attention,\nreally", off.Reason);
    }

    [Theory]
    [InlineData("Bad_Id,T,,,000:1,family,F1,S,,,", "id")]
    [InlineData("x,T,17,,000:1,family,F1,S,,,", "year")]
    [InlineData("x,T,,abc,000:1,family,F1,S,,,", "arxiv")]
    [InlineData("x,T,,,3:83,family,F1,S,,,", "seeds")]
    [InlineData("x,T,,,000:1,famly,F1,S,,,", "class")]
    [InlineData("x,T,,,000:1,family,F99,S,,,", "group")]
    [InlineData("x,T,,,000:1,family,,S,,,", "group")]
    [InlineData("x,T,,,000:1,other,F1,S,,,why", "group")]
    [InlineData("x,T,,,000:1,other,,S,,,", "reason")]
    [InlineData("x,T,,,000:1,family,F1,,,,", "summary")]
    [InlineData("x,T,,,000:1,family,F1,S,Not a type!,,", "library_types")]
    [InlineData("x,T,,,000:1,family,F1,S,,00-x.ipynb,", "notebook")]
    [InlineData("x,T,,,000:1,family,F1,S,,,,extra", "expected 11 fields")]
    public void A_malformed_row_names_its_line_and_field(string row, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => PaperCatalog.Parse(Header + Good + row + "\n", "t.csv"));
        Assert.Contains("t.csv, line 3", e.Message);
        Assert.Contains(field, e.Message);
    }

    [Fact]
    public void Repeated_ids_and_titles_and_a_wrong_header_are_refused()
    {
        var id = Assert.Throws<ArgumentException>(() => PaperCatalog.Parse(Header + Good + Good.Replace("Attention, with", "Other"), "t.csv"));
        Assert.Contains("line 3: id 'sdpa' is already used on line 2", id.Message);
        var title = Assert.Throws<ArgumentException>(() => PaperCatalog.Parse(Header + Good + Good.Replace("sdpa,", "sdpa-2,"), "t.csv"));
        Assert.Contains("already the row of line 2", title.Message);
        var header = Assert.Throws<ArgumentException>(() => PaperCatalog.Parse("id,title\n" + Good, "t.csv"));
        Assert.Contains("t.csv, line 1: expected the header", header.Message);
    }

    [Fact]
    public void Load_of_a_missing_file_says_where_it_looked()
    {
        var e = Assert.Throws<FileNotFoundException>(() => PaperCatalog.Load(Path.Combine(Path.GetTempPath(), "no-such-catalog.csv")));
        Assert.Contains("no-such-catalog.csv", e.Message);
    }

    [Fact]
    public void Status_follows_types_and_sections()
    {
        var c = PaperCatalog.Parse(Header
            + "a,A,,,000:1,family,F2,S,X.Y,,\n"
            + "b,B,,,000:3,cache,K1,S,,,\n"
            + "c,C,,,000:5,phenomenon,P1,S,,00-x.ipynb#s,\n");
        Assert.Equal([CoverageStatus.LibraryOnly, CoverageStatus.NotYet, CoverageStatus.Covered], c.Select(p => p.Status));
        var coverage = c.Coverage();
        Assert.Equal(["F2", "K1", "P1"], coverage.Groups.Select(g => g.Group));
        Assert.Equal(new CoverageCount(2, 1, 0, 0, 1, 1), coverage.FamilyAndCache);
        Assert.Equal(new CoverageCount(1, 0, 1, 1, 0, 0), coverage.PhenomenonAndSystem);
        Assert.Equal(["b"], c.Search("k1").Select(p => p.Id));
        Assert.Equal(["a"], c.Search("library only").Select(p => p.Id));
    }
}
