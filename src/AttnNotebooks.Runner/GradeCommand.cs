using System.CommandLine;
using AttnNotebooks.Runner.Classroom;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner;

/// <summary>
/// <c>grade SUBMISSION... --source INSTRUCTOR_NOTEBOOK --out DIR</c>: grades each submission in its own worker process,
/// with time and memory limits. The notebook that runs is the instructor's, with the student's solution cells put in
/// (<see cref="SubmissionAssembler"/>), so locked cells and hidden tests are the instructor's. Results are judged by
/// this process (<see cref="NotebookGrader"/>); the output folder is watched while a submission runs
/// (<see cref="OutputGuard"/>). Writes grades.csv, grades.json, autograding/ and feedback/ (<see cref="GradeReport"/>);
/// the last line is "N passed, N failed" (full marks, and the rest).
/// </summary>
internal static class GradeCommand
{
    public static Command Create()
    {
        var submissions = new Argument<string[]>("submissions") { Description = "submitted notebooks, or folders of them", Arity = ArgumentArity.OneOrMore };
        var source = new Option<string>("--source") { Description = "the instructor's notebook (solutions, hidden tests)", Required = true };
        var output = new Option<string>("--out") { Description = "where the grade files go", Required = true };
        var limits = new ClassroomOptions(cellTimeout: 120, notebookTimeout: 900);
        var command = new Command("grade", "Grade submissions against the instructor's notebook; write grades.csv, grades.json and feedback pages.") { submissions, source, output };
        limits.AddTo(command);
        command.SetAction((parse, cancel) => RunAsync(parse.GetValue(submissions)!, parse.GetValue(source)!, parse.GetValue(output)!, limits.Read(parse), cancel));
        return command;
    }

    private static async Task<int> RunAsync(string[] paths, string sourcePath, string outDir, GradeOptions? options, CancellationToken cancel)
    {
        if (options is null) { Console.WriteLine("grade: --cell-timeout, --notebook-timeout and --memory-limit must be positive"); return 2; }
        Assignment assignment;
        try { assignment = Assignment.Read(Notebook.Load(sourcePath)); }
        catch (ArgumentException e) { Console.WriteLine("grade: --source: " + e.Message); return 2; }
        if (assignment.Exercises.Count == 0) { Console.WriteLine($"grade: {sourcePath} has no exercises (no autograder test cell calls Exercise.Check)"); return 2; }
        IReadOnlyList<(string Path, string Name)> found;
        try { found = RunCommand.Find(paths); }
        catch (ArgumentException e) { Console.WriteLine("grade: " + e.Message); return 2; }
        var sourceFull = Path.GetFullPath(sourcePath);
        var files = found.Select(f => f.Path).Where(p => Path.GetFullPath(p) != sourceFull).ToList();
        if (files.Count == 0) { Console.WriteLine("grade: no submissions found"); return 2; }

        Directory.CreateDirectory(outDir);
        var folder = Path.GetDirectoryName(sourceFull)!; // relative paths resolve as in the instructor's notebook
        var names = StudentNames.For(files);
        var grades = new List<SubmissionGrade>();
        for (int i = 0; i < files.Count; i++)
        {
            var (file, student) = (files[i], names[i]);
            Console.WriteLine($"[{i + 1}/{files.Count}] {student}: grading {file}");
            var guard = new OutputGuard(outDir);
            SubmissionGrade grade;
            try
            {
                var assembled = SubmissionAssembler.Assemble(assignment, Notebook.Load(file));
                grade = await NotebookGrader.GradeAsync(student, file, assignment, assembled.Notebook, folder, options, assembled.EditedLocked, assembled.Notes, null, cancel);
            }
            catch (ArgumentException e) // not a notebook
            {
                grade = Unreadable(student, file, assignment, e.Message);
            }
            var changes = guard.Changes();
            if (changes.Count > 0)
                grade = grade with { Status = GradeStatus.Tampered, Message = $"{grade.Message}; tampering: {changes[0]}", Notes = [.. grade.Notes, .. changes] };
            grades.Add(grade);
            Console.WriteLine($"[{i + 1}/{files.Count}] {student}: {grade.Message} ({grade.Status})");
        }

        GradeReport.Write(outDir, Path.GetFileName(sourcePath), grades);
        Console.WriteLine($"grades: {Path.GetFullPath(Path.Combine(outDir, "grades.csv"))}, grades.json, autograding/, feedback/");
        int passed = grades.Count(g => g.FullMarks);
        Console.WriteLine($"{passed} passed, {grades.Count - passed} failed");
        return passed == grades.Count ? 0 : 1;
    }

    private static SubmissionGrade Unreadable(string student, string file, Assignment assignment, string why) =>
        new(student, file, GradeStatus.Unreadable, $"0 / {CheckResultText.Num(assignment.MaxPoints)} points; the submission is not a notebook the grader can read: {why}",
            assignment.Exercises.Select(e => new ExerciseGrade(e.Exercise.Id, e.Exercise.Title, e.GradeId, 0, e.Exercise.Points, GradeStatus.Unreadable, why, null)).ToList(), [], 0);
}
