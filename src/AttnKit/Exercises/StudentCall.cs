using System.Reflection;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>
/// Calls a student's function safely: checks its parameters against the exercise's (a number parameter may be
/// declared int, long, float or double), converts the arguments, and turns whatever happens (a tensor, null, an
/// exception) into a <see cref="RecordedOutput"/>. Nothing the function throws gets out.
/// </summary>
internal static class StudentCall
{
    /// <summary>Null when <paramref name="function"/> fits the exercise, else what does not fit.</summary>
    public static string? SignatureProblem(ExerciseDefinition exercise, Delegate function)
    {
        var parameters = Parameters(function);
        var described = $"({string.Join(", ", parameters.Select(p => ExerciseDefinition.TypeName(p.ParameterType)))}) → {ExerciseDefinition.TypeName(Invoke(function).ReturnType)}";
        if (parameters.Length != exercise.Parameters.Count || !parameters.Zip(exercise.Parameters).All(pair => Fits(pair.First.ParameterType, pair.Second.Type)))
            return $"the function takes {described}; expected {exercise.SignatureText}";
        var ret = Invoke(function).ReturnType;
        if (!typeof(Tensor).IsAssignableFrom(ret) && ret != typeof(object))
            return $"the function returns {ExerciseDefinition.TypeName(ret)}; expected {exercise.SignatureText}";
        return null;
    }

    /// <summary>Calls <paramref name="function"/> with <paramref name="arguments"/> (materialized) and records what it gave.</summary>
    public static RecordedOutput Run(Delegate function, IReadOnlyList<object> arguments)
    {
        var parameters = Parameters(function);
        var args = new object?[arguments.Count];
        for (int i = 0; i < args.Length; i++) args[i] = Convert(arguments[i], parameters[i].ParameterType);
        object? result;
        try
        {
            result = function.DynamicInvoke(args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            return RecordedOutput.FromException(e.InnerException);
        }
        catch (Exception e)
        {
            return RecordedOutput.FromException(e);
        }
        return result switch
        {
            null => RecordedOutput.FromTensor(null),
            Tensor t => RecordedOutput.FromTensor(t),
            var other => new RecordedOutput(OutputKind.Signature, Error: $"returned a {other.GetType().Name}, expected a Tensor"),
        };
    }

    private static MethodInfo Invoke(Delegate function) => function.GetType().GetMethod("Invoke")!;
    private static ParameterInfo[] Parameters(Delegate function) => Invoke(function).GetParameters();

    private static bool Fits(Type declared, Type wanted)
    {
        if (wanted == typeof(Tensor)) return declared.IsAssignableFrom(typeof(Tensor));
        if (wanted == typeof(bool)) return declared == typeof(bool);
        if (wanted == typeof(long)) return declared == typeof(long) || declared == typeof(int) || declared == typeof(double) || declared == typeof(float);
        return declared == typeof(double) || declared == typeof(float);
    }

    private static object? Convert(object value, Type declared) => value switch
    {
        long l when declared == typeof(int) => checked((int)l),
        long l when declared == typeof(double) => (double)l,
        long l when declared == typeof(float) => (float)l,
        double d when declared == typeof(float) => (float)d,
        _ => value,
    };
}
