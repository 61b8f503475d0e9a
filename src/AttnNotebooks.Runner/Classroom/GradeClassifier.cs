using AttnKit.Exercises;
using AttnNotebooks.Runner.Execution;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>
/// Turns what the grader saw (the worker's ending, its failed cells, the verified results) into a status and a
/// message per exercise and for the submission, saying what happened: a time-out, too much memory, an exit, a crash,
/// an exception, tampering, or the score.
/// </summary>
internal static class GradeClassifier
{
    // the order in which a submission's status is chosen: the most serious first
    private static readonly string[] Severity =
        [GradeStatus.Tampered, GradeStatus.Memory, GradeStatus.Timeout, GradeStatus.Crashed, GradeStatus.Exited, GradeStatus.Error, GradeStatus.Missing];

    public static SubmissionGrade Classify(string student, string file, Assignment assignment, NotebookOutcome run, ChannelReport report,
        IReadOnlyList<string> editedLocked, IReadOnlyList<string> notes, IReadOnlyList<string> tampering)
    {
        var exercises = new List<ExerciseGrade>();
        for (int i = 0; i < assignment.Exercises.Count; i++)
        {
            var graded = assignment.Exercises[i];
            var (exerciseStatus, text) = Exercise(graded, report.Exercises[i], run);
            if (editedLocked.Contains(graded.GradeId)) text += "; its locked check cell was changed, and the instructor's version ran";
            var verdict = report.Exercises[i];
            exercises.Add(new ExerciseGrade(graded.Exercise.Id, graded.Exercise.Title, graded.GradeId, verdict.Points, graded.Exercise.Points, exerciseStatus, text, verdict.Result));
        }
        var failedCells = run.FailedCells.Where(c => c.Error?.Contains(nameof(ExerciseFailedException), StringComparison.Ordinal) != true) // those are the exercises' own
            .Select(c => $"cell {c.Cell} failed: {c.Error}");
        var allNotes = notes.Concat(failedCells).Concat(report.Notes).Concat(tampering).ToList();

        double points = Math.Round(exercises.Sum(e => e.Points), 2), max = exercises.Sum(e => e.Max);
        var score = $"{CheckResultText.Num(points)} / {CheckResultText.Num(max)} points";
        string? runStatus = RunStatus(run);
        var worst = Severity.FirstOrDefault(s => (s == GradeStatus.Tampered && (report.Tampered || tampering.Count > 0)) || s == runStatus || exercises.Any(e => e.Status == s));
        string status, message;
        if (worst == GradeStatus.Tampered)
        {
            status = worst;
            message = $"{score}; tampering: {tampering.Concat(report.Notes).Concat(exercises.Where(e => e.Status == GradeStatus.Tampered).Select(e => e.Message)).FirstOrDefault()}";
        }
        else if (worst is not null && worst != GradeStatus.Missing)
        {
            status = worst;
            var reason = worst == runStatus ? RunReason(run, worst) : exercises.First(e => e.Status == worst).Message;
            message = $"{score}; {worst}: {reason}";
        }
        else
        {
            status = exercises.Count > 0 && exercises.All(e => e.Status == GradeStatus.Passed) ? GradeStatus.Passed : points > 0 ? GradeStatus.Partial : GradeStatus.Failed;
            message = score;
        }
        if (editedLocked.Count > 0) message += $"; locked cells changed: {string.Join(", ", editedLocked)} (the instructor's versions ran)";
        return new SubmissionGrade(student, file, status, message, exercises, allNotes, run.Seconds) { Executed = run.Executed };
    }

    /// <summary>What went wrong with the whole run, if anything: memory, timeout, crashed, exited.</summary>
    private static string? RunStatus(NotebookOutcome run) => run.Stopped switch
    {
        StopReason.Memory => GradeStatus.Memory,
        StopReason.CellTimeout or StopReason.NotebookTimeout or StopReason.Interrupted => GradeStatus.Timeout,
        _ when run.Finished => null,
        _ when OutOfMemory(run.WorkerLog) || run.FailedCells.Any(c => OutOfMemory(c.Error)) => GradeStatus.Memory,
        _ when run.ExitCode is >= 128 or < 0 => GradeStatus.Crashed,
        _ => GradeStatus.Exited,
    };

    private static (string Status, string Message) Exercise(GradedExercise graded, ExerciseVerdict verdict, NotebookOutcome run)
    {
        if (verdict.Status == VerdictStatus.Tampered) return (GradeStatus.Tampered, verdict.Message);
        if (verdict.Status == VerdictStatus.Checked)
        {
            var r = verdict.Result!;
            var hints = r.Cases.Where(c => !c.Passed).ToList();
            if (r.Passed) return (GradeStatus.Passed, r.Outcome);
            if (hints.Any(c => OutOfMemory(c.Hint))) return (GradeStatus.Memory, r.Outcome);
            if (r.PassedCount > 0) return (GradeStatus.Partial, r.Outcome);
            var publicFailures = hints.Where(c => !c.Hidden).ToList();
            bool allThrew = publicFailures.Count > 0 && publicFailures.All(c => c.Hint?.StartsWith("threw ", StringComparison.Ordinal) == true);
            return (allThrew ? GradeStatus.Error : GradeStatus.Failed, r.Outcome);
        }

        // no results: say why
        string when = run.LastCell < graded.SectionStart ? "did not run: " : "";
        var status = RunStatus(run);
        if (status is not null && run.LastCell <= graded.Cell)
        {
            return (status, when + RunReason(run, status) + (status == GradeStatus.Exited ? ", before the check finished" : ""));
        }
        var failed = run.FailedCells.FirstOrDefault(c => c.Cell >= graded.SectionStart && c.Cell <= graded.Cell);
        if (failed is not null) return (OutOfMemory(failed.Error) ? GradeStatus.Memory : GradeStatus.Error, failed.Error ?? $"cell {failed.Cell} failed");
        return (GradeStatus.Missing, verdict.Message);
    }

    /// <summary>What happened to the run, in words, for a run status.</summary>
    private static string RunReason(NotebookOutcome run, string status) => status switch
    {
        GradeStatus.Exited => $"the notebook's code ended the process (exit code {run.ExitCode}){At(run)}",
        GradeStatus.Crashed => $"the worker process crashed (exit code {run.ExitCode}){At(run)}: {FirstLine(run.WorkerLog)}",
        GradeStatus.Memory when run.Stopped != StopReason.Memory => $"the notebook ran out of memory{At(run)}",
        _ => run.Reason ?? status,
    };

    private static string At(NotebookOutcome run) => run.LastCell > 0 ? $" in cell {run.LastCell}" : "";

    private static string FirstLine(string log) => log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? "no output";

    private static bool OutOfMemory(string? text) => text?.Contains("OutOfMemory", StringComparison.Ordinal) == true;
}
