using System.Text.Json.Nodes;
using AttnNotebooks.Runner.Classroom;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Tests.Classroom;

/// <summary>The test assignment (Classroom/Notebooks/assignment.ipynb: a causal mask for 2 points, attention for 3) and ways to make submissions from it.</summary>
internal static class ClassroomFiles
{
    public static string Assignment => Path.Combine(AppContext.BaseDirectory, "Classroom", "Notebooks", "assignment.ipynb");

    /// <summary>The student version, as the student command makes it.</summary>
    public static Notebook StudentVersion() => Runner.Classroom.StudentVersion.Make(Runner.Classroom.Assignment.Read(Notebook.Load(Assignment)));

    /// <summary>The instructor's source of the cell with this grade_id.</summary>
    public static string InstructorSource(string gradeId) => Cell(Notebook.Load(Assignment), gradeId).Source;

    public static NotebookCell Cell(Notebook notebook, string gradeId) =>
        notebook.Cells.Single(c => Nbgrader.Of(c)?.GradeId == gradeId);

    /// <summary>The student version with some cells' sources replaced (grade_id → source), saved to <paramref name="path"/>.</summary>
    public static string Submission(string path, params (string GradeId, string Source)[] cells)
    {
        var notebook = StudentVersion();
        foreach (var (id, source) in cells) Cell(notebook, id).Source = source;
        notebook.Save(path);
        return path;
    }

    /// <summary>The instructor's solutions, as a student would paste them.</summary>
    public static (string, string)[] RightAnswers =>
    [
        ("causal-mask", Strip(InstructorSource("causal-mask"))),
        ("attention", Strip(InstructorSource("attention"))),
    ];

    /// <summary>A solution without its markers.</summary>
    public static string Strip(string source) =>
        string.Join('\n', source.Split('\n').Where(l => !l.Contains("BEGIN SOLUTION", StringComparison.Ordinal) && !l.Contains("END SOLUTION", StringComparison.Ordinal)));

    public static JsonObject Json(string path) => JsonNode.Parse(File.ReadAllText(path))!.AsObject();

    public static string Text(JsonNode? multiline) => multiline switch
    {
        JsonArray a => string.Concat(a.Select(x => x!.GetValue<string>())),
        JsonValue v => v.GetValue<string>(),
        _ => "",
    };
}
