using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>
/// The exercise registry and its check. A notebook's check cell calls <c>Exercise.Check("masks.causal", CausalMask)</c>:
/// every case of the exercise runs against the library's reference (public cases shown in full, hidden ones only
/// pass or fail), nothing the student's function throws gets out, and the result displays as a table. When a grader
/// runs the notebook, the check also writes the student's raw outputs to the grader's results channel
/// (<see cref="GradeChannel"/>), where the grader judges them again itself.
/// </summary>
public static class Exercise
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, ExerciseDefinition> Registry = BuiltIns();

    private static Dictionary<string, ExerciseDefinition> BuiltIns()
    {
        var registry = new Dictionary<string, ExerciseDefinition>(StringComparer.Ordinal);
        foreach (var e in BuiltInExercises.All())
        {
            e.Validate();
            registry.Add(e.Id, e);
        }
        return registry;
    }

    /// <summary>
    /// Adds an exercise. Ids are unique: a registered exercise cannot be replaced. A grader scores only exercises the
    /// library registers itself (<see cref="BuiltInExercises"/>), since it verifies results in its own process.
    /// </summary>
    /// <exception cref="ArgumentException">The definition is not valid, or its id is taken.</exception>
    public static void Register(ExerciseDefinition exercise)
    {
        ArgumentNullException.ThrowIfNull(exercise);
        exercise.Validate();
        lock (Gate)
        {
            if (Registry.ContainsKey(exercise.Id)) throw new ArgumentException($"exercise {exercise.Id} is already registered", nameof(exercise));
            Registry.Add(exercise.Id, exercise);
        }
    }

    /// <summary>Every registered exercise, by id.</summary>
    public static IReadOnlyList<ExerciseDefinition> All
    {
        get { lock (Gate) return Registry.Values.OrderBy(e => e.Id, StringComparer.Ordinal).ToList(); }
    }

    /// <summary>The exercise with this id, or false.</summary>
    public static bool TryGet(string id, out ExerciseDefinition exercise)
    {
        lock (Gate) return Registry.TryGetValue(id ?? "", out exercise!);
    }

    /// <summary>The exercise with this id.</summary>
    /// <exception cref="ArgumentException">No such exercise.</exception>
    public static ExerciseDefinition Get(string id)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        if (TryGet(id, out var e)) return e;
        throw new ArgumentException($"id: no exercise \"{id}\"; the registered ones are {string.Join(", ", All.Select(x => x.Id))}", nameof(id));
    }

    /// <summary>Checks a mask builder: (queries, keys) → boolean (queries, keys) tensor.</summary>
    public static CheckResult Check(string id, Func<long, long, Tensor> studentFunction) => Check(id, (Delegate)studentFunction);

    /// <summary>Checks a function of one tensor.</summary>
    public static CheckResult Check(string id, Func<Tensor, Tensor> studentFunction) => Check(id, (Delegate)studentFunction);

    /// <summary>Checks a function of two tensors, e.g. attention weights from (q, k).</summary>
    public static CheckResult Check(string id, Func<Tensor, Tensor, Tensor> studentFunction) => Check(id, (Delegate)studentFunction);

    /// <summary>Checks an attention function (q, k, v) → output.</summary>
    public static CheckResult Check(string id, Func<Tensor, Tensor, Tensor, Tensor> studentFunction) => Check(id, (Delegate)studentFunction);

    /// <summary>
    /// Runs every case of exercise <paramref name="id"/> through <paramref name="studentFunction"/> and the reference
    /// and compares them: shape, dtype, NaN, values. The student's exceptions become failed cases. The hidden random
    /// cases use the grader's seed (<see cref="GradeChannel.SeedVariable"/>) when one is set, else the exercise's own.
    /// </summary>
    /// <exception cref="ArgumentException">No such exercise, or no function.</exception>
    public static CheckResult Check(string id, Delegate studentFunction)
    {
        var exercise = Get(id);
        ArgumentNullException.ThrowIfNull(studentFunction);
        int seed = GradeChannel.SeedFor(exercise);
        var problem = StudentCall.SignatureProblem(exercise, studentFunction);
        var recorded = new List<RecordedOutput>();
        var result = Evaluate(exercise, seed, Kit.Device, (_, args) =>
        {
            var output = problem is not null
                ? new RecordedOutput(OutputKind.Signature, Error: problem)
                : StudentCall.Run(studentFunction, args.Select(a => a is Tensor t ? t.clone() : a).ToArray()); // the student may change its inputs
            recorded.Add(output);
            return output;
        });
        GradeChannel.Write(exercise.Id, seed, recorded);
        return result;
    }

    /// <summary>
    /// Judges every case of <paramref name="exercise"/> for <paramref name="seed"/>: materializes its arguments on
    /// <paramref name="device"/>, computes the reference, asks <paramref name="output"/> for the student's output
    /// (case index, arguments), and judges it. Leaves no tensor alive.
    /// </summary>
    internal static CheckResult Evaluate(ExerciseDefinition exercise, int seed, Device device, Func<int, IReadOnlyList<object>, RecordedOutput> output)
    {
        var cases = exercise.Cases(seed);
        var outcomes = new List<CaseOutcome>();
        for (int i = 0; i < cases.Count; i++)
        {
            var (c, hidden) = cases[i];
            using var scope = torch.NewDisposeScope();
            var args = c.Materialize(device);
            var expected = exercise.Reference(args) ?? throw new InvalidOperationException($"exercise {exercise.Id}: the reference returned null");
            var actual = output(i, args);
            var (passed, hint) = CaseJudge.Judge(expected, actual, exercise);
            outcomes.Add(new CaseOutcome(i + 1, hidden, hidden ? null : c.Describe(exercise.Parameters), passed, hidden ? null : hint, hidden ? null : Values(exercise, args)));
        }
        return new CheckResult(exercise.Id, exercise.Title, exercise.Points, outcomes);
    }

    /// <summary>Most values of one tensor argument a public case lists.</summary>
    public const int MaxListedValues = 64;

    /// <summary>"q (1, 1, 3, 4) = [...]" for each small tensor argument; null when there is none.</summary>
    private static string? Values(ExerciseDefinition exercise, IReadOnlyList<object> args)
    {
        var parts = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] is not Tensor t || t.numel() > MaxListedValues) continue;
            using var scope = torch.NewDisposeScope();
            var values = t.cpu().to(ScalarType.Float64).contiguous().data<double>().ToArray();
            parts.Add($"{exercise.Parameters[i].Name} {CaseJudge.Shape(t.shape)} = [{string.Join(", ", values.Select(v => v.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)))}]");
        }
        return parts.Count == 0 ? null : string.Join("\n", parts);
    }
}
