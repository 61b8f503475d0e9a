using System.Globalization;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>
/// A tensor argument of an exercise case: standard normal values of a given shape drawn from a generator seeded with
/// <see cref="Seed"/>, times <see cref="Scale"/>. A case is plain data, so every process (the notebook that runs the
/// check, the grader that verifies it) rebuilds the same tensor: the values are drawn on the CPU, then moved.
/// </summary>
public sealed class RandomTensor
{
    private readonly long[] _shape;

    /// <summary>The shape, e.g. (B, H, N, D).</summary>
    public IReadOnlyList<long> Shape => _shape;
    /// <summary>The generator's seed.</summary>
    public long Seed { get; }
    /// <summary>A factor on the values (a large one makes large attention scores).</summary>
    public double Scale { get; }

    /// <summary>Standard normal values of <paramref name="shape"/> from <paramref name="seed"/>, times <paramref name="scale"/>.</summary>
    public RandomTensor(long[] shape, long seed, double scale = 1)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Length == 0) throw new ArgumentException($"{nameof(shape)}: expected at least one dimension, got none", nameof(shape));
        foreach (var d in shape) Check.Positive(d, nameof(shape));
        Check.NonNegative(seed, nameof(seed));
        if (!double.IsFinite(scale) || scale == 0) throw new ArgumentException($"{nameof(scale)}: expected a finite non-zero number, got {scale}", nameof(scale));
        (_shape, Seed, Scale) = ((long[])shape.Clone(), seed, scale);
    }

    /// <summary>Number of values.</summary>
    public long Count => _shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Makes the tensor (float32) on <paramref name="device"/> (the kit's device when null).</summary>
    public Tensor Create(Device? device = null)
    {
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator((ulong)Seed);
        var values = torch.randn(_shape, ScalarType.Float32, torch.CPU, generator: generator);
        if (Scale != 1) values = values * Scale;
        return values.to(device ?? Kit.Device).MoveToOuterDisposeScope();
    }

    /// <summary>"randn(1, 2, 4, 8; seed 3)", or "30 × randn(...)" with a scale.</summary>
    public override string ToString()
    {
        var text = $"randn({string.Join(", ", _shape)}; seed {Seed})";
        return Scale == 1 ? text : $"{Scale.ToString("g4", CultureInfo.InvariantCulture)} × {text}";
    }
}

/// <summary>
/// One case of an exercise: the arguments the student's function and the reference are called with. Arguments are
/// numbers (<see cref="long"/>, <see cref="double"/>, <see cref="bool"/>) or <see cref="RandomTensor"/>s.
/// </summary>
public sealed class ExerciseCase
{
    /// <summary>The arguments, in the order of the exercise's parameters.</summary>
    public IReadOnlyList<object> Arguments { get; }

    /// <summary>What the case is about ("more keys than queries"), shown with public cases.</summary>
    public string? Note { get; }

    /// <summary>A case with these arguments.</summary>
    public ExerciseCase(params object[] arguments) : this(null, arguments) { }

    /// <summary>A case with a note and these arguments.</summary>
    public ExerciseCase(string? note, params object[] arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        for (int i = 0; i < arguments.Length; i++)
        {
            if (arguments[i] is not (long or double or bool or RandomTensor))
                throw new ArgumentException($"{nameof(arguments)}[{i}]: expected a long, double, bool or RandomTensor, got {arguments[i]?.GetType().Name ?? "null"}", nameof(arguments));
        }
        (Arguments, Note) = (arguments.ToArray(), note);
    }

    /// <summary>The arguments made real: tensors created on <paramref name="device"/> (the caller disposes them).</summary>
    internal object[] Materialize(Device device) =>
        Arguments.Select(a => a is RandomTensor r ? r.Create(device) : a).ToArray();

    /// <summary>"queries = 3, keys = 5" for the given parameter names.</summary>
    public string Describe(IReadOnlyList<ExerciseParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var parts = Arguments.Select((a, i) => $"{(i < parameters.Count ? parameters[i].Name : $"arg{i}")} = {Format(a)}");
        return string.Join(", ", parts) + (Note is null ? "" : $" ({Note})");
    }

    private static string Format(object a) => a switch
    {
        double d => d.ToString("g6", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => a.ToString() ?? "",
    };
}
