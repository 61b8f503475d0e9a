using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>A parameter of an exercise's function: its name (shown in hints) and its type (<see cref="long"/>, <see cref="double"/>, <see cref="bool"/> or <see cref="Tensor"/>).</summary>
public sealed record ExerciseParameter(string Name, Type Type);

/// <summary>
/// An exercise: the function a student writes, checked against the library's own implementation (the reference) on
/// cases. Public cases are shown in full; edge cases and random cases are hidden (only pass or fail is shown). Random
/// cases come from a generator seeded with the check's seed, so a grader can ask for cases the student has not seen.
/// Register it with <see cref="Exercise.Register"/>.
/// </summary>
public sealed partial record ExerciseDefinition
{
    /// <summary>"masks.causal": lower-case words separated by dots or dashes.</summary>
    public required string Id { get; init; }

    /// <summary>"Build the causal mask".</summary>
    public required string Title { get; init; }

    /// <summary>Points for passing every case; each case is worth an equal share.</summary>
    public required double Points { get; init; }

    /// <summary>The function's parameters, in order; it returns a tensor.</summary>
    public required IReadOnlyList<ExerciseParameter> Parameters { get; init; }

    /// <summary>The library's implementation: the expected tensor for materialized arguments (tensors for <see cref="RandomTensor"/>s, numbers as they are).</summary>
    public required Func<IReadOnlyList<object>, Tensor> Reference { get; init; }

    /// <summary>Cases shown in full.</summary>
    public required IReadOnlyList<ExerciseCase> PublicCases { get; init; }

    /// <summary>Hidden cases that are always run (the edges: one token, long sequences, large scores ...).</summary>
    public IReadOnlyList<ExerciseCase> EdgeCases { get; init; } = [];

    /// <summary>Hidden cases drawn from a seeded generator (random shapes); called with a <see cref="Random"/> made from the check's seed.</summary>
    public Func<Random, IReadOnlyList<ExerciseCase>>? RandomCases { get; init; }

    /// <summary>Floating-point values pass when |actual − expected| ≤ AbsoluteTolerance + RelativeTolerance·|expected|; other dtypes must be equal.</summary>
    public double AbsoluteTolerance { get; init; } = 1e-5;

    /// <summary>See <see cref="AbsoluteTolerance"/>.</summary>
    public double RelativeTolerance { get; init; } = 1e-4;

    /// <summary>The seed of the hidden random cases when no grader gives one: fixed per exercise, so a notebook shows the same cases on every run.</summary>
    public int DefaultSeed
    {
        get
        {
            uint hash = 2166136261; // FNV-1a: stable across processes, unlike string.GetHashCode
            foreach (var c in Id) hash = (hash ^ c) * 16777619;
            return (int)(hash & 0x3FFFFFFF);
        }
    }

    /// <summary>"(long queries, long keys) → Tensor", for hints.</summary>
    public string SignatureText => $"({string.Join(", ", Parameters.Select(p => $"{TypeName(p.Type)} {p.Name}"))}) → Tensor";

    /// <summary>Every case for <paramref name="seed"/>, numbered from 1: public, then edge, then random.</summary>
    public IReadOnlyList<(ExerciseCase Case, bool Hidden)> Cases(int seed)
    {
        var list = PublicCases.Select(c => (c, false)).Concat(EdgeCases.Select(c => (c, true))).ToList();
        if (RandomCases is not null)
        {
            var random = RandomCases(new Random(seed)) ?? throw new InvalidOperationException($"exercise {Id}: RandomCases returned null");
            foreach (var c in random)
            {
                CheckCase(c, "RandomCases");
                list.Add((c, true));
            }
        }
        return list;
    }

    [GeneratedRegex(@"^[a-z0-9]+([.-][a-z0-9]+)*$")]
    private static partial Regex IdPattern();

    /// <summary>Checks every field; throws ArgumentException naming what is wrong.</summary>
    internal void Validate()
    {
        if (string.IsNullOrWhiteSpace(Id) || !IdPattern().IsMatch(Id))
            throw new ArgumentException($"{nameof(Id)}: expected lower-case words joined by dots or dashes (\"masks.causal\"), got \"{Id}\"", nameof(Id));
        if (string.IsNullOrWhiteSpace(Title)) throw new ArgumentException($"exercise {Id}: {nameof(Title)} is empty", nameof(Title));
        if (!double.IsFinite(Points) || Points <= 0) throw new ArgumentException($"exercise {Id}: {nameof(Points)}: expected a positive number, got {Points}", nameof(Points));
        if (Parameters is null || Parameters.Count == 0) throw new ArgumentException($"exercise {Id}: {nameof(Parameters)}: expected at least one parameter", nameof(Parameters));
        foreach (var p in Parameters)
        {
            if (p is null || string.IsNullOrWhiteSpace(p.Name)) throw new ArgumentException($"exercise {Id}: every parameter needs a name", nameof(Parameters));
            if (p.Type != typeof(long) && p.Type != typeof(double) && p.Type != typeof(bool) && p.Type != typeof(Tensor))
                throw new ArgumentException($"exercise {Id}: parameter {p.Name}: expected type long, double, bool or Tensor, got {p.Type?.Name ?? "null"}", nameof(Parameters));
        }
        ArgumentNullException.ThrowIfNull(Reference, nameof(Reference));
        if (PublicCases is null || PublicCases.Count == 0) throw new ArgumentException($"exercise {Id}: {nameof(PublicCases)}: expected at least one public case", nameof(PublicCases));
        foreach (var c in PublicCases) CheckCase(c, nameof(PublicCases));
        foreach (var c in EdgeCases ?? throw new ArgumentException($"exercise {Id}: {nameof(EdgeCases)} is null", nameof(EdgeCases))) CheckCase(c, nameof(EdgeCases));
        if (!double.IsFinite(AbsoluteTolerance) || AbsoluteTolerance < 0) throw new ArgumentException($"exercise {Id}: {nameof(AbsoluteTolerance)}: expected zero or more, got {AbsoluteTolerance}", nameof(AbsoluteTolerance));
        if (!double.IsFinite(RelativeTolerance) || RelativeTolerance < 0) throw new ArgumentException($"exercise {Id}: {nameof(RelativeTolerance)}: expected zero or more, got {RelativeTolerance}", nameof(RelativeTolerance));
        _ = Cases(DefaultSeed); // the random cases are well formed too
    }

    private void CheckCase(ExerciseCase c, string list)
    {
        if (c is null) throw new ArgumentException($"exercise {Id}: {list} holds a null case", list);
        if (c.Arguments.Count != Parameters.Count)
            throw new ArgumentException($"exercise {Id}: {list}: a case has {c.Arguments.Count} arguments, the function {Parameters.Count} parameters {SignatureText}", list);
        for (int i = 0; i < Parameters.Count; i++)
        {
            var want = Parameters[i].Type == typeof(Tensor) ? typeof(RandomTensor) : Parameters[i].Type;
            if (c.Arguments[i].GetType() != want)
                throw new ArgumentException($"exercise {Id}: {list}: argument {Parameters[i].Name} is a {c.Arguments[i].GetType().Name}, expected {want.Name}", list);
        }
    }

    internal static string TypeName(Type t) => t == typeof(long) ? "long" : t == typeof(int) ? "int" : t == typeof(double) ? "double"
        : t == typeof(float) ? "float" : t == typeof(bool) ? "bool" : t.Name;
}
