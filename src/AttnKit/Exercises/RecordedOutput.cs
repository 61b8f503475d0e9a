using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Exercises;

/// <summary>What a student's function gave for one case.</summary>
public enum OutputKind
{
    /// <summary>A tensor (dtype, shape and values recorded).</summary>
    Tensor,
    /// <summary>It returned null.</summary>
    Null,
    /// <summary>It returned a tensor that was already disposed.</summary>
    Disposed,
    /// <summary>It threw an exception.</summary>
    Exception,
    /// <summary>Its parameters do not fit the exercise's.</summary>
    Signature,
}

/// <summary>
/// A student's output for one case, as data: the dtype, the shape and the values (as float64, which holds every
/// float32, bool and small integer exactly, NaN and infinities included), or what went wrong. Judging works on this
/// form, both in the notebook and in the grader, which reads it back from the results channel and judges it against
/// a reference it computes itself.
/// </summary>
public sealed record RecordedOutput(OutputKind Kind, string? DType = null, long[]? Shape = null, double[]? Values = null, string? Error = null)
{
    /// <summary>Tensors with more values than this are recorded without their values (their shape is then wrong anyway).</summary>
    public const long MaxValues = 1 << 20;

    /// <summary>Records a returned tensor (null and disposed tensors included).</summary>
    public static RecordedOutput FromTensor(Tensor? t)
    {
        if (t is null) return new(OutputKind.Null);
        if (t.IsInvalid) return new(OutputKind.Disposed);
        using var scope = torch.NewDisposeScope();
        var shape = t.shape;
        double[]? values = null;
        bool numeric = t.dtype is not (ScalarType.ComplexFloat32 or ScalarType.ComplexFloat64);
        if (numeric && t.numel() <= MaxValues)
            values = t.detach().cpu().to(ScalarType.Float64).contiguous().data<double>().ToArray();
        return new(OutputKind.Tensor, t.dtype.ToString(), shape, values);
    }

    /// <summary>Records an exception the student's function threw.</summary>
    public static RecordedOutput FromException(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new(OutputKind.Exception, Error: $"{e.GetType().Name}: {e.Message}");
    }

    /// <summary>The JSON form written to the results channel.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject { ["kind"] = Kind.ToString() };
        if (DType is not null) o["dtype"] = DType;
        if (Shape is not null) o["shape"] = new JsonArray(Shape.Select(s => (JsonNode?)JsonValue.Create(s)).ToArray());
        if (Values is not null) o["values"] = Convert.ToBase64String(MemoryMarshal.AsBytes(Values.AsSpan()));
        if (Error is not null) o["error"] = Error;
        return o;
    }

    /// <summary>Reads the JSON form back.</summary>
    /// <exception cref="ArgumentException">The JSON is not a recorded output.</exception>
    public static RecordedOutput FromJson(JsonNode? node)
    {
        try
        {
            if (node is not JsonObject o) throw new FormatException("expected an object");
            if (!Enum.TryParse<OutputKind>(o["kind"]?.GetValue<string>(), out var kind) || !Enum.IsDefined(kind))
                throw new FormatException($"unknown kind {o["kind"]?.ToJsonString()}");
            var dtype = o["dtype"]?.GetValue<string>();
            var shape = o["shape"] is JsonArray a ? a.Select(x => x!.GetValue<long>()).ToArray() : null;
            double[]? values = null;
            if (o["values"]?.GetValue<string>() is string b64)
            {
                var bytes = Convert.FromBase64String(b64);
                if (bytes.Length % sizeof(double) != 0) throw new FormatException("values are not a whole number of float64");
                values = MemoryMarshal.Cast<byte, double>(bytes).ToArray();
            }
            if (kind == OutputKind.Tensor)
            {
                if (dtype is null || shape is null) throw new FormatException("a tensor needs a dtype and a shape");
                if (shape.Any(s => s < 0)) throw new FormatException("negative dimension");
                if (values is not null && values.LongLength != shape.Aggregate(1L, (x, y) => checked(x * y))) throw new FormatException("the values do not fill the shape");
            }
            return new(kind, dtype, shape, values, o["error"]?.GetValue<string>());
        }
        catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException or OverflowException or System.Text.Json.JsonException)
        {
            throw new ArgumentException($"{nameof(node)}: not a recorded output: {e.Message}", nameof(node), e);
        }
    }
}
