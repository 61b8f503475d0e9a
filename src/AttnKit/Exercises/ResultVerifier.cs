using TorchSharp;

namespace AttnKit.Exercises;

/// <summary>What the grader concluded about one exercise.</summary>
public enum VerdictStatus
{
    /// <summary>Its outputs were judged: see the result.</summary>
    Checked,
    /// <summary>No record reached the grader (the check did not run, or its line was removed).</summary>
    Missing,
    /// <summary>Its records were forged or altered: another seed, conflicting outputs, unreadable outputs.</summary>
    Tampered,
}

/// <summary>The grader's verdict on one exercise.</summary>
/// <param name="ExerciseId">The exercise.</param>
/// <param name="Status">Checked, missing or tampered.</param>
/// <param name="Result">The judged cases, when checked.</param>
/// <param name="Message">The result's summary, or what was missing or wrong.</param>
public sealed record ExerciseVerdict(string ExerciseId, VerdictStatus Status, CheckResult? Result, string Message)
{
    /// <summary>Points earned: the result's, else 0.</summary>
    public double Points => Status == VerdictStatus.Checked ? Result!.Points : 0;
}

/// <summary>The verdicts on a results file, and what else was found in it.</summary>
/// <param name="Exercises">One verdict per exercise asked for, in order.</param>
/// <param name="Notes">Lines that were not check records, records of exercises not graded here.</param>
/// <param name="Tampered">Something other than a check wrote to the file.</param>
public sealed record ChannelReport(IReadOnlyList<ExerciseVerdict> Exercises, IReadOnlyList<string> Notes, bool Tampered);

/// <summary>
/// The grader's side of <see cref="GradeChannel"/>: reads the lines a notebook run wrote, and for each exercise
/// rebuilds its cases from the grader's own seed, computes the reference on the CPU in this process, and judges the
/// recorded outputs with <see cref="CaseJudge"/>. Verdicts in the file, if any, are never read.
/// </summary>
public static class ResultVerifier
{
    /// <summary>Verifies <paramref name="lines"/> for <paramref name="exerciseIds"/>, whose hidden cases the grader seeded with <paramref name="seed"/>.</summary>
    public static ChannelReport Verify(IEnumerable<string> lines, int seed, IReadOnlyList<string> exerciseIds)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(exerciseIds);
        if (seed < 0) throw new ArgumentException($"{nameof(seed)}: expected zero or more, got {seed}", nameof(seed));
        var wanted = new HashSet<string>(exerciseIds, StringComparer.Ordinal);
        var records = new Dictionary<string, List<(int Seed, string Outputs)>>(StringComparer.Ordinal);
        var notes = new List<string>();
        bool tampered = false;
        int number = 0;
        foreach (var raw in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(raw)) continue;
            var parsed = GradeChannel.Parse(raw);
            if (parsed is not { } record)
            {
                notes.Add($"line {number} of the results file is not a check's record: something other than Exercise.Check wrote to it");
                tampered = true;
                continue;
            }
            if (!wanted.Contains(record.Exercise))
            {
                notes.Add($"results for exercise \"{Trim(record.Exercise)}\", which is not graded here, were ignored");
                continue;
            }
            if (!records.TryGetValue(record.Exercise, out var list)) records[record.Exercise] = list = [];
            list.Add((record.Seed, record.Outputs.ToJsonString()));
        }

        var verdicts = new List<ExerciseVerdict>();
        foreach (var id in exerciseIds)
        {
            var verdict = VerifyOne(id, seed, records.GetValueOrDefault(id));
            tampered |= verdict.Status == VerdictStatus.Tampered;
            verdicts.Add(verdict);
        }
        return new ChannelReport(verdicts, notes, tampered);
    }

    private static ExerciseVerdict VerifyOne(string id, int seed, List<(int Seed, string Outputs)>? records)
    {
        if (!Exercise.TryGet(id, out var exercise))
            return new(id, VerdictStatus.Missing, null, $"exercise \"{id}\" is not registered in the library, so the grader cannot verify it");
        if (records is null || records.Count == 0)
            return new(id, VerdictStatus.Missing, null, "no results: the check did not run to its end");
        if (records.FirstOrDefault(r => r.Seed != seed) is { Outputs: not null } other)
            return new(id, VerdictStatus.Tampered, null, $"results were recorded for hidden cases of seed {other.Seed}, not the grader's: the seed or the results file was tampered with");
        if (records.Select(r => r.Outputs).Distinct(StringComparer.Ordinal).Count() > 1)
            return new(id, VerdictStatus.Tampered, null, $"{records.Count} different sets of results were recorded for the same cases: the check or the results file was tampered with (a solution cell must not call Exercise.Check itself)");

        List<RecordedOutput> outputs;
        try
        {
            outputs = System.Text.Json.Nodes.JsonNode.Parse(records[0].Outputs)!.AsArray().Select(RecordedOutput.FromJson).ToList();
        }
        catch (ArgumentException e)
        {
            return new(id, VerdictStatus.Tampered, null, $"the recorded results cannot be read ({e.Message}): the results file was tampered with");
        }
        int expectedCount = exercise.Cases(seed).Count;
        if (outputs.Count != expectedCount)
            return new(id, VerdictStatus.Tampered, null, $"{outputs.Count} results were recorded for {expectedCount} cases: the results file was tampered with");
        var result = Exercise.Evaluate(exercise, seed, torch.CPU, (i, _) => outputs[i]);
        return new(id, VerdictStatus.Checked, result, result.Summary);
    }

    private static string Trim(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
