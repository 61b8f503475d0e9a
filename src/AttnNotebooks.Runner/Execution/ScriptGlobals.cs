using Microsoft.DotNet.Interactive.Formatting;

namespace AttnNotebooks.Runner.Execution;

/// <summary>A value shown with <c>display(x)</c>; <see cref="Update"/> replaces it, as the kernel's DisplayedValue does.</summary>
public sealed class DisplayedValue
{
    private readonly ScriptGlobals _owner;
    private readonly int _index, _generation;
    internal DisplayedValue(ScriptGlobals owner, int index, int generation) => (_owner, _index, _generation) = (owner, index, generation);

    /// <summary>Replaces the displayed value with <paramref name="value"/>.</summary>
    public void Update(object? value) => _owner.Replace(_index, _generation, value);
}

/// <summary>
/// The globals a notebook's cells see, as in the .NET Interactive C# kernel: <c>display(value, mimeTypes)</c>.
/// Displays become display_data outputs, formatted through Microsoft.DotNet.Interactive.Formatting.
/// </summary>
public sealed class ScriptGlobals
{
    private Action<IReadOnlyDictionary<string, string>> _add = _ => { };
    private Action<int, IReadOnlyDictionary<string, string>> _replace = (_, _) => { };
    private int _count;

    internal ScriptGlobals() { }

    /// <summary>Sends displays to the current cell (a DisplayedValue from an earlier cell updates only while its cell runs).</summary>
    internal void Attach(Action<IReadOnlyDictionary<string, string>> add, Action<int, IReadOnlyDictionary<string, string>> replace)
    {
        (_add, _replace) = (add, replace);
        _count = 0;
        _generation++;
    }

    private int _generation;

    /// <summary>Shows <paramref name="value"/> in the cell's output, in the given mime types (default: the formatter's preferred ones).</summary>
#pragma warning disable IDE1006 // the kernel spells it display
    public DisplayedValue display(object? value, params string[] mimeTypes)
#pragma warning restore IDE1006
    {
        _add(Bundle(value, mimeTypes));
        return new DisplayedValue(this, _count++, _generation);
    }

    internal void Replace(int index, int generation, object? value)
    {
        if (generation == _generation) _replace(index, Bundle(value, []));
    }

    /// <summary>
    /// The mime bundle the kernel would write: text/plain for strings and primitives; otherwise text/html from the
    /// registered HTML formatter and text/plain beside it.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Bundle(object? value, IReadOnlyCollection<string> mimeTypes)
    {
        if (mimeTypes.Count > 0)
            return mimeTypes.ToDictionary(m => m, m => value.ToDisplayString(m));
        if (value is null) return new Dictionary<string, string> { ["text/plain"] = "<null>" };
        if (value is string s) return new Dictionary<string, string> { ["text/plain"] = s };
        var type = value.GetType();
        if (type.IsPrimitive || type.IsEnum || value is decimal)
            return new Dictionary<string, string> { ["text/plain"] = value.ToDisplayString(PlainTextFormatter.MimeType) };
        return new Dictionary<string, string>
        {
            [HtmlFormatter.MimeType] = value.ToDisplayString(HtmlFormatter.MimeType),
            [PlainTextFormatter.MimeType] = value.ToDisplayString(PlainTextFormatter.MimeType),
        };
    }
}
