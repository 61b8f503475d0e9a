using System.Text.RegularExpressions;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>A solution or hidden-test region that does not open and close properly.</summary>
public sealed class MarkerException(string message) : ArgumentException(message);

/// <summary>
/// nbgrader's regions in C# cells: <c>// BEGIN SOLUTION</c> … <c>// END SOLUTION</c> (the instructor's answer, which the
/// student version replaces by <see cref="StubLines"/> at the same indentation) and <c>// BEGIN HIDDEN TESTS</c> …
/// <c>// END HIDDEN TESTS</c> (tests the student version drops and the grader restores from the instructor's source).
/// A marker is a line of its own.
/// </summary>
public static partial class Markers
{
    /// <summary>What a solution region becomes: a comment and a statement that compiles inside a method or lambda body.</summary>
    public static readonly string[] StubLines = ["// YOUR CODE HERE", "throw new NotImplementedException();"];

    /// <summary>What a markdown solution cell becomes.</summary>
    public const string MarkdownStub = "YOUR ANSWER HERE";

    [GeneratedRegex(@"^\s*//\s*(BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")]
    private static partial Regex Marker();

    /// <summary>Whether <paramref name="source"/> has a solution region.</summary>
    public static bool HasSolution(string source) => Lines(source).Any(l => Kind(l) is ("BEGIN", "SOLUTION"));

    /// <summary>Whether <paramref name="source"/> has a hidden-test region.</summary>
    public static bool HasHiddenTests(string source) => Lines(source).Any(l => Kind(l) is ("BEGIN", "HIDDEN TESTS"));

    /// <summary>Replaces each solution region (markers included) by the stub, indented like its BEGIN marker.</summary>
    /// <exception cref="MarkerException">A region does not open and close properly.</exception>
    public static string ClearSolutions(string source, string where) => Rewrite(source, "SOLUTION", where, indent => StubLines.Select(l => indent + l));

    /// <summary>Removes each hidden-test region, markers included.</summary>
    /// <exception cref="MarkerException">A region does not open and close properly.</exception>
    public static string RemoveHiddenTests(string source, string where) => Rewrite(source, "HIDDEN TESTS", where, _ => []);

    /// <summary>The whole cell as a stub, for a solution cell without markers (as nbgrader does).</summary>
    public static string Stub() => string.Join('\n', StubLines);

    /// <summary>Checks that every region of either kind opens and closes, without nesting.</summary>
    public static void Validate(string source, string where)
    {
        Rewrite(source, "SOLUTION", where, _ => []);
        Rewrite(source, "HIDDEN TESTS", where, _ => []);
    }

    private static string Rewrite(string source, string region, string where, Func<string, IEnumerable<string>> replacement)
    {
        ArgumentNullException.ThrowIfNull(source);
        var lines = Lines(source);
        var output = new List<string>();
        int? open = null;
        string indent = "";
        for (int i = 0; i < lines.Length; i++)
        {
            var kind = Kind(lines[i]);
            if (kind?.Region == region && kind?.Verb == "BEGIN")
            {
                if (open is int o) throw new MarkerException($"{where}, line {i + 1}: BEGIN {region} inside the region opened on line {o + 1}; close it first with // END {region}");
                open = i;
                indent = lines[i][..(lines[i].Length - lines[i].TrimStart().Length)];
                continue;
            }
            if (kind?.Region == region && kind?.Verb == "END")
            {
                if (open is null) throw new MarkerException($"{where}, line {i + 1}: END {region} without a BEGIN {region} before it");
                open = null;
                output.AddRange(replacement(indent));
                continue;
            }
            if (open is null) output.Add(lines[i]);
        }
        if (open is int unclosed) throw new MarkerException($"{where}, line {unclosed + 1}: BEGIN {region} is never closed with // END {region}");
        return string.Join('\n', output);
    }

    private static string[] Lines(string source) => source is null ? throw new ArgumentNullException(nameof(source)) : source.Replace("\r\n", "\n").Split('\n');

    private static (string Verb, string Region)? Kind(string line)
    {
        var m = Marker().Match(line);
        return m.Success ? (m.Groups[1].Value, m.Groups[2].Value) : null;
    }
}
