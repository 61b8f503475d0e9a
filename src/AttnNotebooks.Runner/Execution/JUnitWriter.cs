using System.Globalization;
using System.Xml.Linq;

namespace AttnNotebooks.Runner.Execution;

/// <summary>JUnit XML: one test suite, one test case per notebook.</summary>
public static class JUnitWriter
{
    /// <summary>Writes the outcomes to <paramref name="path"/>.</summary>
    public static void Write(string path, IReadOnlyList<NotebookOutcome> outcomes)
    {
        string S(double x) => x.ToString("0.###", CultureInfo.InvariantCulture);
        var suite = new XElement("testsuite",
            new XAttribute("name", "notebooks"),
            new XAttribute("tests", outcomes.Count),
            new XAttribute("failures", outcomes.Count(o => !o.Passed)),
            new XAttribute("errors", 0),
            new XAttribute("time", S(outcomes.Sum(o => o.Seconds))),
            outcomes.Select(o => new XElement("testcase",
                new XAttribute("classname", "notebooks"),
                new XAttribute("name", o.Name),
                new XAttribute("time", S(o.Seconds)),
                o.Passed ? null : new XElement("failure", new XAttribute("message", FirstLine(o.Error)), o.Error ?? ""))));
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        new XDocument(new XElement("testsuites", suite)).Save(full);
    }

    private static string FirstLine(string? s) => (s ?? "").Split('\n')[0];
}
