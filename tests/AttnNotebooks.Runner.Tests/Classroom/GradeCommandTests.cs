using System.Text.Json.Nodes;

namespace AttnNotebooks.Runner.Tests.Classroom;

/// <summary>
/// grade on a class of planted submissions (<see cref="GradedClass"/>): each is graded for what it did, and what one
/// does leaves the others' grades alone.
/// </summary>
public class GradeCommandTests(GradedClass graded) : IClassFixture<GradedClass>
{
    static string Str(JsonNode? n) => n?.GetValue<string>() ?? "";
    static double Num(JsonNode? n) => n!.GetValue<double>();
    string Status(string student) => Str(graded.Student(student)["status"]);

    static JsonObject Case(JsonObject exercise, int number) =>
        exercise["cases"]!.AsArray().Select(c => c!.AsObject()).Single(c => c["number"]!.GetValue<int>() == number);

    [Fact]
    public void The_run_ends_with_passed_and_failed_counts()
    {
        Assert.True(graded.ExitCode == 1, graded.Output);
        Assert.EndsWith("1 passed, 10 failed", graded.Output.TrimEnd());
        Assert.Equal(1, graded.Grades["summary"]!["passed"]!.GetValue<int>());
        Assert.Equal(10, graded.Grades["summary"]!["failed"]!.GetValue<int>());
    }

    [Fact]
    public void A_right_submission_gets_full_marks_after_all_the_others()
    {
        var right = graded.Student("right");
        Assert.Equal("passed", Str(right["status"]));
        Assert.Equal(5, Num(right["points"]));
        Assert.True(right["full_marks"]!.GetValue<bool>());
        Assert.Contains("right,total,,5,5,passed,5 / 5 points", graded.Csv);
        var page = File.ReadAllText(Path.Combine(graded.Out, "feedback", "right.html"));
        Assert.Contains("right: 5 / 5 points", page);
        Assert.Contains("<table class=\"attn-check-table\"", page);
    }

    [Fact]
    public void The_untouched_student_version_scores_zero_and_runs_to_the_end()
    {
        Assert.Equal(0, Num(graded.Student("student")["points"]));
        Assert.Equal("error", Status("student"));
        Assert.StartsWith("threw NotImplementedException", Str(Case(graded.Exercise("student", "masks.causal"), 1)["hint"]));
        var executed = ClassroomFiles.Json(Path.Combine(graded.Out, "executed", "student.ipynb"));
        var last = executed["cells"]!.AsArray()[^1]!["outputs"]!.AsArray();
        Assert.Equal("reached the end\n", ClassroomFiles.Text(Assert.Single(last)!["text"]));
    }

    [Fact]
    public void Wrong_solutions_get_partial_marks_and_the_right_hints()
    {
        var mask = graded.Exercise("wrong", "masks.causal");
        Assert.Equal("partial", Str(mask["status"]));
        Assert.InRange(Num(mask["points"]), 0.01, 1.99);   // the square cases pass
        Assert.True(Case(mask, 1)["passed"]!.GetValue<bool>());
        Assert.Equal("values differ at [0, 1]: expected true, got false (6 of 15 values differ)", Str(Case(mask, 2)["hint"]));
        Assert.StartsWith("values differ at [", Str(Case(graded.Exercise("wrong", "attention.sdpa"), 1)["hint"]));
        Assert.Equal("partial", Status("wrong"));

        Assert.Equal("shape: expected (3, 5), got (5, 3)", Str(Case(graded.Exercise("hints", "masks.causal"), 2)["hint"]));
        Assert.Equal("NaN present: 12 of 12 values, first at [0, 0, 0, 0]", Str(Case(graded.Exercise("hints", "attention.sdpa"), 1)["hint"]));
        var hidden = Case(mask, 4);
        Assert.True(hidden["hidden"]!.GetValue<bool>());
        Assert.Null(hidden["inputs"]);
        Assert.Null(hidden["hint"]);
    }

    [Fact]
    public void An_infinite_loop_is_a_timeout_and_the_checks_before_it_count()
    {
        Assert.Equal("timeout", Status("loop"));
        Assert.Equal(2, Num(graded.Student("loop")["points"]));
        var attention = graded.Exercise("loop", "attention.sdpa");
        Assert.Equal("timeout", Str(attention["status"]));
        Assert.Contains($"ran longer than {GradedClass.CellTimeout} s and was stopped", Str(attention["message"]));
    }

    [Fact]
    public void Environment_Exit_is_reported_as_an_exit()
    {
        Assert.Equal("exited", Status("exit"));
        Assert.Contains("ended the process (exit code 3)", Str(graded.Exercise("exit", "masks.causal")["message"]));
        Assert.StartsWith("did not run: ", Str(graded.Exercise("exit", "attention.sdpa")["message"]));
        Assert.Equal(0, Num(graded.Student("exit")["points"]));
    }

    [Fact]
    public void An_exception_costs_only_its_exercise()
    {
        // As in the kernel, the cell that threw still declared its function: the check grades that function on its
        // merits, the exception is reported, and the other exercise keeps its points.
        Assert.Equal("partial", Status("throw"));
        Assert.Contains(graded.Student("throw")["notes"]!.AsArray(), n => Str(n).Contains("InvalidOperationException: broken on purpose", StringComparison.Ordinal));
        var mask = graded.Exercise("throw", "masks.causal");
        Assert.Equal(0, Num(mask["points"]));
        Assert.Contains("dtype: expected Bool, got Float32", Str(mask["message"]));
        Assert.Equal(3, Num(graded.Exercise("throw", "attention.sdpa")["points"]));
    }

    [Fact]
    public void Unbounded_allocation_is_stopped_at_the_memory_limit()
    {
        Assert.Equal("memory", Status("hog"));
        Assert.Contains("used more than 1500 MB of memory", Str(graded.Exercise("hog", "attention.sdpa")["message"]));
        Assert.Equal(2, Num(graded.Exercise("hog", "masks.causal")["points"]));
    }

    [Fact]
    public void An_edited_locked_check_is_reported_and_the_instructors_check_runs()
    {
        var locked = graded.Student("locked");
        Assert.Contains(locked["notes"]!.AsArray(), n => Str(n) == "locked cell \"causal-mask-check\" was edited; the grader ran the instructor's version");
        var mask = graded.Exercise("locked", "masks.causal");
        Assert.Equal("partial", Str(mask["status"])); // the wrong mask was caught although the edited cell said all passed
        Assert.Contains("locked check cell was changed", Str(mask["message"]));
        Assert.Equal(3, Num(graded.Exercise("locked", "attention.sdpa")["points"]));
    }

    [Fact]
    public void Writing_the_grade_files_or_the_results_is_tampering_and_changes_nothing()
    {
        Assert.Equal("tampered", Status("forge"));
        Assert.Equal(0, Num(graded.Student("forge")["points"]));
        var notes = graded.Student("forge")["notes"]!.AsArray().Select(Str).ToList();
        Assert.Contains(notes, n => n.Contains("not a check's record", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.Contains("wrote grades.csv in the grader's output folder", StringComparison.Ordinal));
        Assert.DoesNotContain("forge,100", graded.Csv);
        Assert.StartsWith("student,exercise,grade_id,points,max,status,message\n", graded.Csv);
        Assert.Equal(11 * 3 + 1, graded.Csv.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void A_file_that_is_not_a_notebook_is_unreadable()
    {
        Assert.Equal("unreadable", Status("broken"));
        Assert.Contains("not valid JSON", Str(graded.Student("broken")["message"]));
        Assert.Equal(0, Num(graded.Student("broken")["points"]));
    }

    [Fact]
    public void GitHub_Classroom_can_read_the_summary()
    {
        var right = ClassroomFiles.Json(Path.Combine(graded.Out, "autograding", "right.json"));
        Assert.Equal(1, right["version"]!.GetValue<int>());
        Assert.Equal("pass", Str(right["status"]));
        Assert.Equal(5, Num(right["max_score"]));
        Assert.Equal(5, right["tests"]!.AsArray().Sum(t => Num(t!["score"])));
        var loop = ClassroomFiles.Json(Path.Combine(graded.Out, "autograding", "loop.json"));
        Assert.Equal("error", Str(loop["status"]));
        Assert.Equal(["pass", "error"], loop["tests"]!.AsArray().Select(t => Str(t!["status"])));
    }
}
