using System.Text.Json.Nodes;
using AttnKit.Exercises;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Exercises;

/// <summary>
/// The grader's side of the results channel: it judges recorded outputs itself, on the cases of its own seed, and
/// treats anything else in the file as tampering.
/// </summary>
[Collection(GradeChannelCollection.Name)]
public class ResultVerifierTests
{
    static Tensor RightMask(long queries, long keys) => torch.arange(keys - queries, keys).view(queries, 1).ge(torch.arange(keys).view(1, keys));
    static Tensor TopLeftMask(long queries, long keys) => torch.ones(queries, keys, ScalarType.Bool).tril();

    /// <summary>The line a check writes for <paramref name="function"/> with hidden cases of <paramref name="seed"/>.</summary>
    static string Record(string id, int seed, Delegate function)
    {
        var outputs = new List<RecordedOutput>();
        Exercise.Evaluate(Exercise.Get(id), seed, torch.CPU, (_, args) => { var o = StudentCall.Run(function, args); outputs.Add(o); return o; });
        return GradeChannel.Line(id, seed, outputs);
    }

    static readonly string[] Both = ["masks.causal", "attention.sdpa"];

    [Fact]
    public void Recorded_outputs_are_judged_again_with_the_same_hints()
    {
        var report = ResultVerifier.Verify([Record("masks.causal", 7, (Func<long, long, Tensor>)TopLeftMask)], 7, ["masks.causal"]);
        var verdict = Assert.Single(report.Exercises);
        Assert.Equal(VerdictStatus.Checked, verdict.Status);
        Assert.False(report.Tampered);
        Assert.Equal("values differ at [0, 1]: expected true, got false (6 of 15 values differ)", verdict.Result!.Cases[1].Hint);
        Assert.InRange(verdict.Points, 0.01, 1.99);
        Assert.Contains("case 2: values differ at [0, 1]", verdict.Message);

        var right = ResultVerifier.Verify([Record("masks.causal", 7, (Func<long, long, Tensor>)RightMask)], 7, ["masks.causal"]);
        Assert.Equal(2, right.Exercises[0].Points);
    }

    [Fact]
    public void A_check_that_never_ran_is_missing()
    {
        var report = ResultVerifier.Verify([Record("masks.causal", 3, (Func<long, long, Tensor>)RightMask)], 3, Both);
        Assert.Equal(VerdictStatus.Checked, report.Exercises[0].Status);
        Assert.Equal(VerdictStatus.Missing, report.Exercises[1].Status);
        Assert.Equal(0, report.Exercises[1].Points);
        Assert.False(report.Tampered);
    }

    [Fact]
    public void A_made_up_verdict_is_not_a_record_and_counts_for_nothing()
    {
        var forged = """{"exercise":"masks.causal","passed":true,"points":2,"max":2}""";
        var report = ResultVerifier.Verify([forged, "garbage"], 5, ["masks.causal"]);
        Assert.True(report.Tampered);
        Assert.Equal(2, report.Notes.Count);
        Assert.Contains("line 1 of the results file is not a check's record", report.Notes[0]);
        Assert.Equal(VerdictStatus.Missing, report.Exercises[0].Status);
        Assert.Equal(0, report.Exercises[0].Points);
    }

    [Fact]
    public void Made_up_outputs_are_judged_like_any_other()
    {
        // a forger who writes a well-formed record still has to give the right values for the grader's cases
        var exercise = Exercise.Get("masks.causal");
        int seed = 11;
        var outputs = exercise.Cases(seed).Select(c => new RecordedOutput(OutputKind.Tensor, "Bool", [(long)c.Case.Arguments[0], (long)c.Case.Arguments[1]],
            Enumerable.Repeat(1.0, (int)((long)c.Case.Arguments[0] * (long)c.Case.Arguments[1])).ToArray()));
        var report = ResultVerifier.Verify([GradeChannel.Line("masks.causal", seed, outputs)], seed, ["masks.causal"]);
        Assert.Equal(VerdictStatus.Checked, report.Exercises[0].Status);
        Assert.True(report.Exercises[0].Points < 2);
    }

    [Fact]
    public void Results_for_another_seed_are_tampering()
    {
        // outputs computed for the notebook's own hidden cases, not the grader's
        var report = ResultVerifier.Verify([Record("masks.causal", 1, (Func<long, long, Tensor>)RightMask)], 2, ["masks.causal"]);
        Assert.Equal(VerdictStatus.Tampered, report.Exercises[0].Status);
        Assert.Contains("seed 1, not the grader's", report.Exercises[0].Message);
        Assert.Equal(0, report.Exercises[0].Points);
        Assert.True(report.Tampered);
    }

    [Fact]
    public void Conflicting_records_are_tampering_and_identical_ones_are_not()
    {
        var right = Record("masks.causal", 4, (Func<long, long, Tensor>)RightMask);
        var wrong = Record("masks.causal", 4, (Func<long, long, Tensor>)TopLeftMask);
        var conflict = ResultVerifier.Verify([wrong, right], 4, ["masks.causal"]);
        Assert.Equal(VerdictStatus.Tampered, conflict.Exercises[0].Status);
        Assert.Contains("2 different sets of results", conflict.Exercises[0].Message);
        Assert.Equal(2, ResultVerifier.Verify([right, right], 4, ["masks.causal"]).Exercises[0].Points);
    }

    [Fact]
    public void Unreadable_or_incomplete_outputs_are_tampering()
    {
        var line = JsonNode.Parse(Record("masks.causal", 4, (Func<long, long, Tensor>)RightMask))!.AsObject();
        var outputs = line["outputs"]!.AsArray();
        outputs.RemoveAt(outputs.Count - 1);
        var shorter = ResultVerifier.Verify([line.ToJsonString()], 4, ["masks.causal"]);
        Assert.Equal(VerdictStatus.Tampered, shorter.Exercises[0].Status);
        Assert.Contains("results were recorded for", shorter.Exercises[0].Message);

        outputs[0]!["values"] = "not base64!";
        Assert.Equal(VerdictStatus.Tampered, ResultVerifier.Verify([line.ToJsonString()], 4, ["masks.causal"]).Exercises[0].Status);
    }

    [Fact]
    public void Records_of_exercises_not_graded_here_are_noted_and_ignored()
    {
        var report = ResultVerifier.Verify([Record("masks.causal", 4, (Func<long, long, Tensor>)RightMask)], 4, ["attention.sdpa"]);
        Assert.False(report.Tampered);
        Assert.Contains("\"masks.causal\", which is not graded here", Assert.Single(report.Notes));
    }

    [Fact]
    public void Hidden_random_cases_follow_the_seed_and_public_ones_do_not()
    {
        var exercise = Exercise.Get("masks.causal");
        string Shapes(int seed) => string.Join(";", exercise.Cases(seed).Select(c => string.Join(",", c.Case.Arguments)));
        Assert.Equal(Shapes(5), Shapes(5));
        Assert.NotEqual(Shapes(5), Shapes(6));
        Assert.Equal(exercise.Cases(5).Take(exercise.PublicCases.Count).Select(c => c.Case), exercise.Cases(6).Take(exercise.PublicCases.Count).Select(c => c.Case));
    }

    [Fact]
    public void A_check_writes_one_line_under_a_grader_and_it_verifies_to_what_the_notebook_showed()
    {
        var file = Path.GetTempFileName();
        try
        {
            Environment.SetEnvironmentVariable(GradeChannel.ResultsVariable, file);
            Environment.SetEnvironmentVariable(GradeChannel.SeedVariable, "12345");
            var shown = Exercise.Check("masks.causal", TopLeftMask);
            var lines = File.ReadAllLines(file);
            Assert.Equal(12345, JsonNode.Parse(Assert.Single(lines))!["seed"]!.GetValue<int>());
            var verdict = ResultVerifier.Verify(lines, 12345, ["masks.causal"]).Exercises[0];
            Assert.Equal(shown.Points, verdict.Points);
            Assert.Equal(shown.Cases, verdict.Result!.Cases);
        }
        finally
        {
            Environment.SetEnvironmentVariable(GradeChannel.ResultsVariable, null);
            Environment.SetEnvironmentVariable(GradeChannel.SeedVariable, null);
            File.Delete(file);
        }
    }
}
