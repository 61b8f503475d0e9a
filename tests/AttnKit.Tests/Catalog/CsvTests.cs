using AttnKit.Catalog;

namespace AttnKit.Tests.Catalog;

public class CsvTests
{
    private static string[][] Fields(string text) => Csv.Parse(text).Select(r => r.Fields.ToArray()).ToArray();

    [Fact]
    public void Plain_fields_and_records()
    {
        Assert.Equal([["a", "b", "c"], ["1", "", "3"]], Fields("a,b,c\n1,,3\n"));
        Assert.Equal([["a", "b"], ["c", "d"]], Fields("a,b\r\nc,d"));          // CRLF, no final line break
        Assert.Equal([["a", ""]], Fields("a,"));                               // a trailing empty field
    }

    [Fact]
    public void Quoted_fields_hold_commas_doubled_quotes_and_line_breaks()
    {
        var records = Csv.Parse("id,text\nx,\"one, two\"\ny,\"say \"\"hi\"\"\"\nz,\"line 1\nline 2\"\nw,\"\"\n");
        Assert.Equal(["x", "one, two"], records[1].Fields);
        Assert.Equal(["y", "say \"hi\""], records[2].Fields);
        Assert.Equal(["z", "line 1\nline 2"], records[3].Fields);
        Assert.Equal(["w", ""], records[4].Fields);
        Assert.Equal([1, 2, 3, 4, 6], records.Select(r => r.Line));            // the record after a two-line field starts on line 6
    }

    [Fact]
    public void A_byte_order_mark_and_empty_lines_are_skipped()
    {
        Assert.Equal([["a", "b"], ["c", "d"]], Fields("\uFEFFa,b\n\nc,d\n\n"));
    }

    [Theory]
    [InlineData("a,b\nc,d\"e\n", "line 2", "does not start with one")]
    [InlineData("a,b\nc,\"d\"e\n", "line 2", "after its closing double quote")]
    [InlineData("a,b\nc,d\ne,\"never\nclosed\n", "line 3", "never closed")]
    public void Malformed_text_names_the_line(string text, string line, string what)
    {
        var e = Assert.Throws<ArgumentException>(() => Csv.Parse(text, "test.csv"));
        Assert.Contains("test.csv, " + line, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("a,b", "\"a,b\"")]
    [InlineData("say \"hi\"", "\"say \"\"hi\"\"\"")]
    [InlineData("two\nlines", "\"two\nlines\"")]
    public void Quote_round_trips(string field, string written)
    {
        Assert.Equal(written, Csv.Quote(field));
        Assert.Equal([[field, "x"]], Fields(written + ",x\n"));
    }
}
