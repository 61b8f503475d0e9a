using System.CommandLine;
using AttnNotebooks.Runner.Classroom;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner;

/// <summary>
/// <c>validate NOTEBOOK</c>: what a student runs before submitting. Executes the notebook in a worker (every cell, even
/// after a failure), verifies its checks the way <c>grade</c> does (fresh hidden cases, results judged by the runner),
/// says which locked cells were changed, and ends with "P of M points". Exit 0 with full marks.
/// </summary>
internal static class ValidateCommand
{
    public static Command Create()
    {
        var notebook = new Argument<string>("notebook") { Description = "the notebook to check (a student version, or the instructor's)" };
        var limits = new ClassroomOptions(cellTimeout: 600, notebookTimeout: 1800);
        var command = new Command("validate", "Execute a notebook, run its exercise checks, and show the score.") { notebook };
        limits.AddTo(command);
        command.SetAction((parse, cancel) => RunAsync(parse.GetValue(notebook)!, limits.Read(parse), cancel));
        return command;
    }

    private static async Task<int> RunAsync(string path, GradeOptions? options, CancellationToken cancel)
    {
        if (options is null) { Console.WriteLine("validate: --cell-timeout, --notebook-timeout and --memory-limit must be positive"); return 2; }
        Assignment assignment;
        try { assignment = Assignment.Read(Notebook.Load(path)); }
        catch (ArgumentException e) { Console.WriteLine("validate: " + e.Message); return 2; }
        if (assignment.Exercises.Count == 0) { Console.WriteLine($"validate: {path} has no exercises (no autograder test cell calls Exercise.Check)"); return 2; }

        var edited = new List<string>();
        foreach (var (id, (cell, info)) in assignment.Cells)
        {
            if (!info.Locked || info.Solution || Nbgrader.StoredFingerprint(cell) is not string stored) continue;
            if (stored != Nbgrader.Fingerprint(cell.Source))
            {
                edited.Add(id);
                Console.WriteLine($"warning: locked cell \"{id}\" (cell {cell.Number}) was changed since it was handed out; the grader will run the original");
            }
        }

        var notebook = assignment.Notebook.Clone();
        foreach (var cell in notebook.Cells) cell.ClearOutputs();
        Console.WriteLine($"validate: running {path} ({notebook.Cells.Count(c => c.CellType == "code")} code cells)");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var grade = await NotebookGrader.GradeAsync(Path.GetFileNameWithoutExtension(path), path, assignment, notebook, folder, options, [], [], null, cancel);

        foreach (var e in grade.Exercises)
        {
            Console.WriteLine($"{e.Status.ToUpperInvariant(),-8} {e.ExerciseId} ({e.GradeId}): {CheckResultText.Num(e.Points)} / {CheckResultText.Num(e.Max)} points: {e.Message}");
            if (e.Status == GradeStatus.Passed || e.Result is null) continue;
            foreach (var c in e.Result.Cases.Where(c => !c.Hidden))
                Console.WriteLine($"    {(c.Passed ? "ok  " : "FAIL")} case {c.Number}: {c.Inputs}{(c.Passed ? "" : $"\n         {c.Hint}")}");
            var hidden = e.Result.Cases.Where(c => c.Hidden).ToList();
            if (hidden.Count > 0) Console.WriteLine($"    hidden cases: {hidden.Count(c => c.Passed)} of {hidden.Count} passed");
        }
        foreach (var note in grade.Notes) Console.WriteLine("note: " + note);
        if (edited.Count > 0) Console.WriteLine($"changed locked cells: {string.Join(", ", edited)}");
        Console.WriteLine($"{CheckResultText.Num(grade.Points)} of {CheckResultText.Num(grade.Max)} points");
        return grade.FullMarks ? 0 : 1;
    }
}
