using System.Globalization;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>
/// Judges a recorded output against the expected tensor, in this order, and says what is wrong in one line: what went
/// wrong in the call (an exception, null), then the shape ("shape: expected (2, 4, 8, 8), got (2, 4, 8)"), the dtype,
/// NaN where the expected has none ("NaN present: 3 of 64 values, first at [0, 1, 2, 0]"), and the values ("values
/// differ at [0, 1, 3, 2]: expected 0.25, got 0.5 (3 of 64 values differ)").
/// </summary>
public static class CaseJudge
{
    /// <summary>Whether <paramref name="actual"/> matches <paramref name="expected"/> within the exercise's tolerances, and a hint when it does not.</summary>
    public static (bool Passed, string? Hint) Judge(Tensor expected, RecordedOutput actual, ExerciseDefinition exercise)
    {
        Check.NotNull(expected, nameof(expected));
        ArgumentNullException.ThrowIfNull(actual);
        ArgumentNullException.ThrowIfNull(exercise);
        switch (actual.Kind)
        {
            case OutputKind.Exception: return (false, $"threw {actual.Error}");
            case OutputKind.Signature: return (false, actual.Error ?? $"the function does not take {exercise.SignatureText}");
            case OutputKind.Null: return (false, "returned null instead of a tensor");
            case OutputKind.Disposed: return (false, "returned a tensor that was already disposed");
        }
        var shape = actual.Shape ?? [];
        if (!shape.SequenceEqual(expected.shape))
            return (false, $"shape: expected {Shape(expected.shape)}, got {Shape(shape)}");
        if (actual.DType != expected.dtype.ToString())
            return (false, $"dtype: expected {expected.dtype}, got {actual.DType}{(expected.dtype == ScalarType.Bool ? " (a mask is boolean: compare with .ge/.lt, or convert with .to(ScalarType.Bool))" : "")}");
        if (actual.Values is null) return (false, $"the output could not be recorded ({actual.DType} values)");

        double[] want;
        using (torch.NewDisposeScope())
            want = expected.detach().cpu().to(ScalarType.Float64).contiguous().data<double>().ToArray();
        var got = actual.Values;
        bool floating = torch.is_floating_point(expected);

        int nan = 0, firstNan = -1;
        for (int i = 0; i < got.Length; i++)
        {
            if (!double.IsNaN(got[i]) || double.IsNaN(want[i])) continue;
            if (nan++ == 0) firstNan = i;
        }
        if (nan > 0) return (false, $"NaN present: {nan} of {got.Length} values, first at {Index(firstNan, shape)}");

        int differ = 0, first = -1;
        for (int i = 0; i < got.Length; i++)
        {
            if (Same(want[i], got[i], floating, exercise)) continue;
            if (differ++ == 0) first = i;
        }
        if (differ > 0)
            return (false, $"values differ at {Index(first, shape)}: expected {Format(want[first], expected.dtype)}, got {Format(got[first], expected.dtype)} ({differ} of {got.Length} values differ)");
        return (true, null);
    }

    private static bool Same(double want, double got, bool floating, ExerciseDefinition exercise)
    {
        if (double.IsNaN(want)) return double.IsNaN(got);
        if (!floating) return want == got;
        if (double.IsInfinity(want) || double.IsInfinity(got)) return want == got;
        return Math.Abs(got - want) <= exercise.AbsoluteTolerance + exercise.RelativeTolerance * Math.Abs(want);
    }

    /// <summary>"(2, 4, 8)".</summary>
    public static string Shape(IEnumerable<long> shape) => "(" + string.Join(", ", shape) + ")";

    /// <summary>The multi-index of flat position <paramref name="flat"/> in a row-major <paramref name="shape"/>: "[0, 1, 3, 2]".</summary>
    public static string Index(long flat, IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var index = new long[shape.Count];
        for (int d = shape.Count - 1; d >= 0; d--)
        {
            index[d] = shape[d] == 0 ? 0 : flat % shape[d];
            flat = shape[d] == 0 ? 0 : flat / shape[d];
        }
        return "[" + string.Join(", ", index) + "]";
    }

    private static string Format(double x, ScalarType dtype) => dtype switch
    {
        ScalarType.Bool => x != 0 ? "true" : "false",
        ScalarType.Int8 or ScalarType.Int16 or ScalarType.Int32 or ScalarType.Int64 or ScalarType.Byte => x.ToString("0", CultureInfo.InvariantCulture),
        _ => x.ToString("g6", CultureInfo.InvariantCulture),
    };
}
