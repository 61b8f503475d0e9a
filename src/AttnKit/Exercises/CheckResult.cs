using System.Globalization;
using System.Net;
using System.Text;

namespace AttnKit.Exercises;

/// <summary>How one case went. A hidden case shows neither its inputs nor its hint.</summary>
/// <param name="Number">1-based.</param>
/// <param name="Hidden">A hidden case (edge or random).</param>
/// <param name="Inputs">"queries = 3, keys = 5" for a public case; null for a hidden one.</param>
/// <param name="Passed">The output matched the reference.</param>
/// <param name="Hint">What was wrong, for a failed public case; null otherwise.</param>
/// <param name="Values">For a public case with small tensor arguments, their values (so the inputs are there in full); null otherwise.</param>
public sealed record CaseOutcome(int Number, bool Hidden, string? Inputs, bool Passed, string? Hint, string? Values = null);

/// <summary>A check cell calls <see cref="CheckResult.ThrowIfFailed"/> (in a hidden test) so that nbgrader's autograder, which scores a cell by whether it raises, sees the failure.</summary>
public sealed class ExerciseFailedException(string message) : Exception(message);

/// <summary>
/// The result of <see cref="Exercise.Check(string, Delegate)"/>: one line per case, and the points earned (each case
/// is worth an equal share of the exercise's points). Notebooks show it as an HTML table (through the formatter the
/// kit registers) or as plain text.
/// </summary>
public sealed class CheckResult
{
    /// <summary>The exercise's id.</summary>
    public string ExerciseId { get; }
    /// <summary>The exercise's title.</summary>
    public string Title { get; }
    /// <summary>The cases, in order.</summary>
    public IReadOnlyList<CaseOutcome> Cases { get; }
    /// <summary>The exercise's points.</summary>
    public double MaxPoints { get; }

    /// <summary>A result from its cases.</summary>
    public CheckResult(string exerciseId, string title, double maxPoints, IReadOnlyList<CaseOutcome> cases)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(exerciseId);
        ArgumentException.ThrowIfNullOrWhiteSpace(title);
        ArgumentNullException.ThrowIfNull(cases);
        if (cases.Count == 0) throw new ArgumentException($"{nameof(cases)}: expected at least one case", nameof(cases));
        if (!double.IsFinite(maxPoints) || maxPoints <= 0) throw new ArgumentException($"{nameof(maxPoints)}: expected a positive number, got {maxPoints}", nameof(maxPoints));
        (ExerciseId, Title, MaxPoints, Cases) = (exerciseId, title, maxPoints, cases.ToArray());
    }

    /// <summary>Cases passed.</summary>
    public int PassedCount => Cases.Count(c => c.Passed);
    /// <summary>Every case passed.</summary>
    public bool Passed => PassedCount == Cases.Count;
    /// <summary>Points earned: the exercise's points times the share of cases passed, to two decimals.</summary>
    public double Points => Math.Round(MaxPoints * PassedCount / Cases.Count, 2);

    /// <summary>One line: "masks.causal: 2 / 2 points, 12 of 12 cases passed", with the first failure's hint.</summary>
    public string Summary => $"{ExerciseId}: {Num(Points)} / {Num(MaxPoints)} points, {Outcome}";

    /// <summary>"10 of 12 cases passed; case 2: values differ at [0, 1]: ...": the cases, and the first failure (a hidden one only by number).</summary>
    public string Outcome
    {
        get
        {
            var text = $"{PassedCount} of {Cases.Count} cases passed";
            var failed = Cases.FirstOrDefault(c => !c.Passed);
            if (failed is null) return text;
            return text + (failed.Hidden ? $"; hidden case {failed.Number} failed" : $"; case {failed.Number}: {failed.Hint}");
        }
    }

    /// <summary>Throws <see cref="ExerciseFailedException"/> unless every case passed.</summary>
    public void ThrowIfFailed()
    {
        if (!Passed) throw new ExerciseFailedException(Summary);
    }

    /// <summary>Plain text: the summary, then one line per case.</summary>
    public string ToText()
    {
        var sb = new StringBuilder($"{Title} ({ExerciseId}): {Num(Points)} / {Num(MaxPoints)} points, {PassedCount} of {Cases.Count} cases passed\n");
        foreach (var c in Cases)
        {
            sb.Append(c.Passed ? "  ok    " : "  FAIL  ").Append(c.Number.ToString(CultureInfo.InvariantCulture).PadLeft(2)).Append("  ");
            sb.Append(c.Hidden ? "hidden case" : c.Inputs);
            if (!c.Passed && c.Hint is not null) sb.Append("\n          ").Append(c.Hint);
            sb.Append('\n');
        }
        return sb.ToString().TrimEnd('\n');
    }

    /// <summary>HTML: a heading with the points, then a table of the cases (hidden ones show only pass or fail).</summary>
    public string ToHtml()
    {
        var color = Passed ? "#1a7f37" : PassedCount > 0 ? "#9a6700" : "#cf222e";
        var sb = new StringBuilder("<div class=\"attn-check\">");
        sb.Append("<div><b>").Append(E(Title)).Append("</b> <code>").Append(E(ExerciseId)).Append("</code>: <b style=\"color:").Append(color).Append("\">")
          .Append(Num(Points)).Append(" / ").Append(Num(MaxPoints)).Append(" points</b>, ").Append(PassedCount).Append(" of ").Append(Cases.Count).Append(" cases passed</div>");
        sb.Append("<table class=\"attn-check-table\" style=\"border-collapse:collapse\"><thead><tr><th>#</th><th>case</th><th>result</th><th>hint</th></tr></thead><tbody>");
        foreach (var c in Cases)
        {
            sb.Append("<tr><td>").Append(c.Number).Append("</td><td>").Append(c.Hidden ? "<i>hidden</i>" : "<code>" + E(c.Inputs ?? "") + "</code>");
            if (c.Values is not null) sb.Append("<details><summary>values</summary><pre>").Append(E(c.Values)).Append("</pre></details>");
            sb.Append("</td>");
            sb.Append("<td style=\"color:").Append(c.Passed ? "#1a7f37\">passed" : "#cf222e\">failed").Append("</td><td>").Append(E(c.Passed ? "" : c.Hint ?? "")).Append("</td></tr>");
        }
        return sb.Append("</tbody></table></div>").ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => ToText();

    private static string E(string s) => WebUtility.HtmlEncode(s);
    internal static string Num(double x) => x.ToString("0.##", CultureInfo.InvariantCulture);
}
