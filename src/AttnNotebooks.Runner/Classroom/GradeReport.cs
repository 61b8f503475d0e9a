using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>
/// The grade files: <c>grades.csv</c> (a row per student and exercise, and a total row per student), <c>grades.json</c>
/// (the same, with the cases and notes, and a summary), and per student <c>autograding/STUDENT.json</c>, the result
/// object GitHub Classroom's autograding reporter reads (version 1: status, max_score, and tests with name, status,
/// score and message; a workflow passes it base64-encoded in the runner's <c>…_RESULTS</c> variable), plus a feedback
/// page and the executed notebook. Each file is written whole, atomically.
/// </summary>
public static class GradeReport
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Writes every file under <paramref name="outDir"/>.</summary>
    public static void Write(string outDir, string source, IReadOnlyList<SubmissionGrade> grades)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(outDir);
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(grades);
        Directory.CreateDirectory(outDir);
        WriteAtomically(Path.Combine(outDir, "grades.csv"), Csv(grades));
        WriteAtomically(Path.Combine(outDir, "grades.json"), Json(source, grades).ToJsonString(Indented) + "\n");
        foreach (var g in grades)
        {
            WriteAtomically(Path.Combine(outDir, "autograding", g.Student + ".json"), Autograding(g, source).ToJsonString(Indented) + "\n");
            WriteAtomically(Path.Combine(outDir, "feedback", g.Student + ".html"), FeedbackPage.Render(g, source));
            g.Executed?.Save(Path.Combine(outDir, "executed", g.Student + ".ipynb"));
        }
    }

    /// <summary>grades.csv.</summary>
    public static string Csv(IReadOnlyList<SubmissionGrade> grades)
    {
        ArgumentNullException.ThrowIfNull(grades);
        var sb = new StringBuilder("student,exercise,grade_id,points,max,status,message\n");
        foreach (var g in grades)
        {
            foreach (var e in g.Exercises)
                Row(sb, g.Student, e.ExerciseId, e.GradeId, Num(e.Points), Num(e.Max), e.Status, e.Message);
            Row(sb, g.Student, "total", "", Num(g.Points), Num(g.Max), g.Status, g.Message);
        }
        return sb.ToString();
    }

    /// <summary>grades.json.</summary>
    public static JsonObject Json(string source, IReadOnlyList<SubmissionGrade> grades)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(grades);
        var submissions = new JsonArray();
        foreach (var g in grades)
        {
            submissions.Add(new JsonObject
            {
                ["student"] = g.Student,
                ["file"] = g.File,
                ["points"] = g.Points,
                ["max"] = g.Max,
                ["status"] = g.Status,
                ["message"] = g.Message,
                ["full_marks"] = g.FullMarks,
                ["seconds"] = Math.Round(g.Seconds, 1),
                ["notes"] = new JsonArray(g.Notes.Select(n => (JsonNode?)n).ToArray()),
                ["exercises"] = new JsonArray(g.Exercises.Select(e => (JsonNode?)new JsonObject
                {
                    ["exercise"] = e.ExerciseId,
                    ["title"] = e.Title,
                    ["grade_id"] = e.GradeId,
                    ["points"] = e.Points,
                    ["max"] = e.Max,
                    ["status"] = e.Status,
                    ["message"] = e.Message,
                    ["cases"] = e.Result is null ? null : new JsonArray(e.Result.Cases.Select(c => (JsonNode?)new JsonObject
                    {
                        ["number"] = c.Number,
                        ["hidden"] = c.Hidden,
                        ["inputs"] = c.Inputs,
                        ["passed"] = c.Passed,
                        ["hint"] = c.Hint,
                    }).ToArray()),
                }).ToArray()),
                ["autograding"] = Autograding(g, source),
            });
        }
        int passed = grades.Count(g => g.FullMarks);
        return new JsonObject
        {
            ["source"] = source,
            ["submissions"] = submissions,
            ["summary"] = new JsonObject { ["submissions"] = grades.Count, ["passed"] = passed, ["failed"] = grades.Count - passed },
        };
    }

    /// <summary>The result object of GitHub Classroom's autograding (one runner, one test per exercise).</summary>
    public static JsonObject Autograding(SubmissionGrade g, string source)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(source);
        static string TestStatus(ExerciseGrade e) => e.Status switch
        {
            GradeStatus.Passed => "pass",
            GradeStatus.Partial or GradeStatus.Failed => "fail",
            _ => "error",
        };
        return new JsonObject
        {
            ["version"] = 1,
            ["status"] = g.FullMarks ? "pass" : g.Exercises.Any(e => TestStatus(e) == "error") ? "error" : "fail",
            ["max_score"] = g.Max,
            ["tests"] = new JsonArray(g.Exercises.Select(e => (JsonNode?)new JsonObject
            {
                ["name"] = $"{e.ExerciseId}: {e.Title}",
                ["status"] = TestStatus(e),
                ["score"] = e.Points,
                ["message"] = e.Message,
                ["test_code"] = $"Exercise.Check(\"{e.ExerciseId}\", ...) in cell \"{e.GradeId}\"",
                ["filename"] = source,
                ["line_no"] = 0,
            }).ToArray()),
        };
    }

    private static void Row(StringBuilder sb, params string[] fields) => sb.AppendJoin(',', fields.Select(Field)).Append('\n');

    /// <summary>A CSV field: quoted when needed; a leading = + - @ is defused, since messages carry the student's text into spreadsheets.</summary>
    private static string Field(string s)
    {
        if (s.Length > 0 && "=+-@".Contains(s[0]) && !double.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, out _)) s = "'" + s;
        return s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
    }

    private static string Num(double x) => CheckResultText.Num(x);

    internal static void WriteAtomically(string path, string text)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(temp, text, new UTF8Encoding(false));
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
