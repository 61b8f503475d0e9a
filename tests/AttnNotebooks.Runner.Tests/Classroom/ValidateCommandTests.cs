namespace AttnNotebooks.Runner.Tests.Classroom;

/// <summary>validate: the instructor's notebook scores full marks; its student version runs to the end and scores zero.</summary>
public class ValidateCommandTests
{
    static readonly Dictionary<string, string?> Cpu = new() { ["ATTN_DEVICE"] = "cpu" };

    [Fact]
    public void The_instructor_notebook_scores_full_marks()
    {
        var (code, output) = RunnerProcess.Run(Cpu, "validate", ClassroomFiles.Assignment);
        Assert.True(code == 0, output);
        Assert.Contains("PASSED   masks.causal (causal-mask-check): 2 / 2 points: 13 of 13 cases passed", output);
        Assert.Contains("PASSED   attention.sdpa (attention-check): 3 / 3 points", output);
        Assert.EndsWith("5 of 5 points", output.TrimEnd());
    }

    [Fact]
    public void The_student_version_runs_to_the_end_and_scores_zero()
    {
        var root = Directory.CreateTempSubdirectory("attn-validate-").FullName;
        try
        {
            var path = Path.Combine(root, "assignment.ipynb");
            ClassroomFiles.StudentVersion().Save(path);
            var (code, output) = RunnerProcess.Run(Cpu, "validate", path);
            Assert.Equal(1, code);
            Assert.Contains("ERROR    masks.causal (causal-mask-check): 0 / 2 points", output);
            Assert.Contains("    FAIL case 1: queries = 4, keys = 4\n         threw NotImplementedException", output.Replace("\r\n", "\n"));
            Assert.Contains("    hidden cases: 0 of 10 passed", output);
            Assert.EndsWith("0 of 5 points", output.TrimEnd());

            // and as a plain notebook run: every cell runs, the last one included
            var (runCode, runOutput) = RunnerProcess.Run(Cpu, "run", path, "--out", Path.Combine(root, "out"), "--no-site");
            Assert.True(runCode == 0, runOutput);
            var executed = ClassroomFiles.Json(Path.Combine(root, "out", "notebooks", "assignment.ipynb"));
            var last = executed["cells"]!.AsArray()[^1]!["outputs"]!.AsArray();
            Assert.Equal("reached the end\n", ClassroomFiles.Text(Assert.Single(last)!["text"]));
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void A_changed_locked_cell_is_pointed_out()
    {
        var root = Directory.CreateTempSubdirectory("attn-validate-").FullName;
        try
        {
            var path = ClassroomFiles.Submission(Path.Combine(root, "assignment.ipynb"), [.. ClassroomFiles.RightAnswers,
                ("attention-check", "var attentionCheck = Exercise.Check(\"attention.sdpa\", Attention);\nattentionCheck // looks fine to me")]);
            var (code, output) = RunnerProcess.Run(Cpu, "validate", path);
            Assert.True(code == 0, output);
            Assert.Contains("warning: locked cell \"attention-check\"", output);
            Assert.Contains("the grader will run the original", output);
            Assert.EndsWith("5 of 5 points", output.TrimEnd());
        }
        finally { Directory.Delete(root, true); }
    }
}
