using System.Net;
using System.Text;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>A student's feedback page: the score, what happened, and each exercise's cases (hidden ones only pass or fail). Self-contained HTML.</summary>
public static class FeedbackPage
{
    /// <summary>The page for <paramref name="grade"/>.</summary>
    public static string Render(SubmissionGrade grade, string source)
    {
        ArgumentNullException.ThrowIfNull(grade);
        ArgumentNullException.ThrowIfNull(source);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E($"{grade.Student}: {source}")).Append("</title>\n<style>")
          .Append("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1f2328}")
          .Append("table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}")
          .Append(".passed{color:#1a7f37}.partial{color:#9a6700}.other{color:#cf222e}code{background:#f6f8fa;padding:0 .2rem}")
          .Append("</style></head>\n<body>\n");
        sb.Append("<h1>").Append(E(grade.Student)).Append(": ").Append(CheckResultText.Num(grade.Points)).Append(" / ").Append(CheckResultText.Num(grade.Max)).Append(" points</h1>\n");
        sb.Append("<p>Assignment <code>").Append(E(source)).Append("</code>, submission <code>").Append(E(Path.GetFileName(grade.File))).Append("</code>: <b class=\"")
          .Append(Css(grade.Status)).Append("\">").Append(E(grade.Status)).Append("</b>. ").Append(E(grade.Message)).Append("</p>\n");
        if (grade.Notes.Count > 0)
        {
            sb.Append("<h2>Notes</h2>\n<ul>");
            foreach (var n in grade.Notes) sb.Append("<li>").Append(E(n)).Append("</li>");
            sb.Append("</ul>\n");
        }
        sb.Append("<h2>Exercises</h2>\n<table><thead><tr><th>exercise</th><th>points</th><th>status</th><th>what happened</th></tr></thead><tbody>");
        foreach (var e in grade.Exercises)
        {
            sb.Append("<tr><td>").Append(E(e.Title)).Append(" <code>").Append(E(e.ExerciseId)).Append("</code></td><td>").Append(CheckResultText.Num(e.Points)).Append(" / ")
              .Append(CheckResultText.Num(e.Max)).Append("</td><td class=\"").Append(Css(e.Status)).Append("\">").Append(E(e.Status)).Append("</td><td>").Append(E(e.Message)).Append("</td></tr>");
        }
        sb.Append("</tbody></table>\n");
        foreach (var e in grade.Exercises.Where(e => e.Result is not null))
            sb.Append("<h3>").Append(E(e.Title)).Append("</h3>\n").Append(e.Result!.ToHtml()).Append('\n');
        return sb.Append("</body></html>\n").ToString();
    }

    private static string Css(string status) => status switch { GradeStatus.Passed => "passed", GradeStatus.Partial => "partial", _ => "other" };
    private static string E(string s) => WebUtility.HtmlEncode(s);
}
