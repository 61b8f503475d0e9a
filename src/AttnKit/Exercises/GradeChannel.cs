using System.Text.Json;
using System.Text.Json.Nodes;

namespace AttnKit.Exercises;

/// <summary>
/// How checks reach a grader. When <see cref="ResultsVariable"/> names a file, every <see cref="Exercise.Check(string, Delegate)"/>
/// appends one JSON line to it: the exercise, the seed of its hidden cases, and the student's raw output for each case,
/// never a verdict. The grader (the runner's <c>validate</c> and <c>grade</c>) chooses the seed (<see cref="SeedVariable"/>),
/// then reads the lines back and judges the outputs against the reference in its own process
/// (<see cref="ResultVerifier"/>), so a line that student code writes gains nothing that computing the right answer
/// would not: a made-up verdict has nowhere to go, and a second, different record for the same exercise is reported
/// as tampering.
/// </summary>
public static class GradeChannel
{
    /// <summary>The environment variable naming the results file.</summary>
    public const string ResultsVariable = "ATTN_GRADE_RESULTS";

    /// <summary>The environment variable holding the seed of the hidden random cases.</summary>
    public const string SeedVariable = "ATTN_GRADE_SEED";

    /// <summary>The seed of <paramref name="exercise"/>'s hidden random cases: the grader's when set, else the exercise's own.</summary>
    public static int SeedFor(ExerciseDefinition exercise)
    {
        ArgumentNullException.ThrowIfNull(exercise);
        return int.TryParse(Environment.GetEnvironmentVariable(SeedVariable), out var seed) && seed >= 0 ? seed : exercise.DefaultSeed;
    }

    /// <summary>One check's line: {"exercise": id, "seed": seed, "outputs": [...]}.</summary>
    public static string Line(string exerciseId, int seed, IEnumerable<RecordedOutput> outputs)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(exerciseId);
        ArgumentNullException.ThrowIfNull(outputs);
        var o = new JsonObject
        {
            ["exercise"] = exerciseId,
            ["seed"] = seed,
            ["outputs"] = new JsonArray(outputs.Select(x => (JsonNode)x.ToJson()).ToArray()),
        };
        return o.ToJsonString();
    }

    /// <summary>Appends a check's line to the results file, when a grader asked for one. A file that cannot be written is said on stderr; the notebook goes on.</summary>
    internal static void Write(string exerciseId, int seed, IReadOnlyList<RecordedOutput> outputs)
    {
        var path = Environment.GetEnvironmentVariable(ResultsVariable);
        if (string.IsNullOrWhiteSpace(path)) return;
        try
        {
            File.AppendAllText(path, Line(exerciseId, seed, outputs) + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            Console.Error.WriteLine($"Exercise.Check: could not write the results for {exerciseId} to {path}: {e.Message}");
        }
    }

    /// <summary>A parsed line: null when the line is not a check's record.</summary>
    internal static (string Exercise, int Seed, JsonArray Outputs)? Parse(string line)
    {
        try
        {
            if (JsonNode.Parse(line) is not JsonObject o) return null;
            if (o["exercise"]?.GetValue<string>() is not string id || o["seed"]?.GetValue<int>() is not int seed || o["outputs"] is not JsonArray outputs) return null;
            return (id, seed, outputs);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}
