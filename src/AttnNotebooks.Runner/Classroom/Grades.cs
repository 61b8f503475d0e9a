using AttnKit.Exercises;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>The statuses a grade can have, as grades.csv and grades.json spell them.</summary>
public static class GradeStatus
{
    /// <summary>Every case passed.</summary>
    public const string Passed = "passed";
    /// <summary>Some cases passed.</summary>
    public const string Partial = "partial";
    /// <summary>No case passed.</summary>
    public const string Failed = "failed";
    /// <summary>The student's code threw in every case, or a cell failed (compile error, exception) so the check could not run.</summary>
    public const string Error = "error";
    /// <summary>A cell or the notebook ran past its time limit and was stopped.</summary>
    public const string Timeout = "timeout";
    /// <summary>The notebook used more memory than allowed.</summary>
    public const string Memory = "memory";
    /// <summary>The notebook's code ended its own process (Environment.Exit).</summary>
    public const string Exited = "exited";
    /// <summary>The process crashed (a signal: stack overflow, native crash, fail-fast).</summary>
    public const string Crashed = "crashed";
    /// <summary>The results or the grader's files were written by something other than the checks.</summary>
    public const string Tampered = "tampered";
    /// <summary>The check's results never arrived, for no reason the grader could see.</summary>
    public const string Missing = "missing";
    /// <summary>The submission could not be read as a notebook.</summary>
    public const string Unreadable = "unreadable";
}

/// <summary>One exercise of one submission.</summary>
/// <param name="ExerciseId">"masks.causal".</param>
/// <param name="Title">The exercise's title.</param>
/// <param name="GradeId">The test cell's grade_id.</param>
/// <param name="Points">Points earned.</param>
/// <param name="Max">The exercise's points.</param>
/// <param name="Status">See <see cref="GradeStatus"/>.</param>
/// <param name="Message">What happened, in one line.</param>
/// <param name="Result">The cases as the grader judged them, when it could.</param>
public sealed record ExerciseGrade(string ExerciseId, string Title, string GradeId, double Points, double Max, string Status, string Message, CheckResult? Result);

/// <summary>One graded submission.</summary>
/// <param name="Student">The student's name (from the file or folder name).</param>
/// <param name="File">The submission file.</param>
/// <param name="Status">See <see cref="GradeStatus"/>: the score's, or what went wrong with the whole run.</param>
/// <param name="Message">One line: the score, or what went wrong.</param>
/// <param name="Exercises">Per exercise.</param>
/// <param name="Notes">What else the grader noticed (edited locked cells, cells not run, tampering).</param>
/// <param name="Seconds">How long grading took.</param>
public sealed record SubmissionGrade(string Student, string File, string Status, string Message, IReadOnlyList<ExerciseGrade> Exercises, IReadOnlyList<string> Notes, double Seconds)
{
    /// <summary>Points earned.</summary>
    public double Points => Math.Round(Exercises.Sum(e => e.Points), 2);
    /// <summary>Points possible.</summary>
    public double Max => Exercises.Sum(e => e.Max);
    /// <summary>Full marks.</summary>
    public bool FullMarks => Exercises.Count > 0 && Exercises.All(e => e.Status == GradeStatus.Passed) && Status == GradeStatus.Passed;
    /// <summary>The notebook as the grader ran it, with its outputs.</summary>
    public Notebook? Executed { get; init; }
}
