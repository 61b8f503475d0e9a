using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace AttnNotebooks.Runner.Notebooks;

/// <summary>A notebook that could not be read: bad JSON, not nbformat 4, or a cell in a language the runner does not run.</summary>
public sealed class NotebookFormatException(string message) : ArgumentException(message);

/// <summary>
/// A Jupyter notebook (nbformat 4) as a JSON tree. Everything in the file is kept as it was read (metadata, cell ids,
/// attachments, fields the runner does not know); the runner only replaces code cells' outputs and execution counts,
/// so writing a notebook back loses nothing a user typed.
/// </summary>
public sealed class Notebook
{
    private readonly JsonObject _root;
    private static readonly System.Text.RegularExpressions.Regex SurrogateEscape =
        new(@"(?<!\\)((?:\\\\)*)\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", System.Text.RegularExpressions.RegexOptions.Compiled | System.Text.RegularExpressions.RegexOptions.IgnoreCase);

    /// <summary>Where it was read from, or a name for error messages.</summary>
    public string Name { get; }

    /// <summary>The cells, in order.</summary>
    public IReadOnlyList<NotebookCell> Cells { get; }

    /// <summary>The notebook-level metadata object (kernelspec, polyglot_notebook, ...).</summary>
    public JsonObject Metadata => (JsonObject)_root["metadata"]!;

    /// <summary>The default kernel language: <c>metadata.polyglot_notebook.kernelInfo.defaultKernelName</c>, else <c>metadata.kernelspec.language</c>, else "csharp".</summary>
    public string DefaultKernel { get; }

    private Notebook(JsonObject root, string name)
    {
        _root = root;
        Name = name;
        if (root["nbformat"]?.GetValueKind() != JsonValueKind.Number || root["nbformat"]!.GetValue<int>() != 4)
            throw new NotebookFormatException($"{name}: expected nbformat 4, got {root["nbformat"]?.ToJsonString() ?? "no nbformat"}");
        if (root["metadata"] is not JsonObject) root["metadata"] = new JsonObject();
        if (root["cells"] is not JsonArray cells) throw new NotebookFormatException($"{name}: expected a \"cells\" array");
        var meta = Metadata;
        DefaultKernel = Normalize(meta["polyglot_notebook"]?["kernelInfo"]?["defaultKernelName"]?.GetValue<string>()
                                  ?? meta["polyglot_notebook"]?["defaultKernelName"]?.GetValue<string>()
                                  ?? meta["kernelspec"]?["language"]?.GetValue<string>()
                                  ?? "csharp");
        var list = new List<NotebookCell>();
        for (int i = 0; i < cells.Count; i++)
        {
            if (cells[i] is not JsonObject cell) throw new NotebookFormatException($"{name}: cell {i + 1} is not a JSON object");
            list.Add(new NotebookCell(cell, i + 1, DefaultKernel, name));
        }
        Cells = list;
    }

    /// <summary>Reads a notebook file.</summary>
    /// <exception cref="NotebookFormatException">The file is not a well-formed nbformat 4 notebook.</exception>
    public static Notebook Load(string path)
    {
        if (!File.Exists(path)) throw new ArgumentException($"no such notebook: {path}", nameof(path));
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses notebook JSON.</summary>
    public static Notebook Parse(string json, string name = "notebook")
    {
        JsonNode? node;
        try { node = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new NotebookFormatException($"{name}: not valid JSON: {e.Message}"); }
        if (node is not JsonObject root) throw new NotebookFormatException($"{name}: expected a JSON object at the top");
        return new Notebook(root, name);
    }

    /// <summary>A deep copy (outputs included).</summary>
    public Notebook Clone() => Parse(ToJson(), Name);

    /// <summary>The notebook as nbformat JSON: one-space indentation and a final newline, as Jupyter writes it.</summary>
    public string ToJson()
    {
        var options = new JsonSerializerOptions { WriteIndented = true, IndentSize = 1, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        // The encoder still escapes characters beyond the BMP (𝛼, emoji); Jupyter writes them as they are.
        return SurrogateEscape.Replace(_root.ToJsonString(options), m => m.Groups[1].Value + char.ConvertFromUtf32(char.ConvertToUtf32(
            (char)Convert.ToInt32(m.Groups[2].Value, 16), (char)Convert.ToInt32(m.Groups[3].Value, 16)))) + "\n";
    }

    /// <summary>
    /// Writes the notebook to <paramref name="path"/> atomically: to a temporary file in the same folder, then renamed over
    /// the target, so a failed or interrupted write leaves what was there before.
    /// </summary>
    public void Save(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(temp, ToJson(), new UTF8Encoding(false));
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Kernel names as the runner compares them: "csharp", "fsharp", "pwsh", "markdown", ...</summary>
    public static string Normalize(string kernel) => kernel.Trim().ToLowerInvariant() switch
    {
        "c#" or "csharp" or ".net-csharp" or "cs" => "csharp",
        "f#" or "fsharp" or ".net-fsharp" => "fsharp",
        "powershell" or "pwsh" or ".net-pwsh" => "pwsh",
        var other => other,
    };
}

/// <summary>One cell of a <see cref="Notebook"/>.</summary>
public sealed class NotebookCell
{
    private readonly JsonObject _cell;

    /// <summary>1-based position in the notebook.</summary>
    public int Number { get; }
    /// <summary>"code", "markdown" or "raw".</summary>
    public string CellType { get; }
    /// <summary>For a code cell: its kernel language (cell metadata polyglot_notebook.kernelName, then the legacy dotnet_interactive.language, then the notebook's default).</summary>
    public string Kernel { get; }
    /// <summary>The cell's JSON object (metadata and all).</summary>
    public JsonObject Json => _cell;

    internal NotebookCell(JsonObject cell, int number, string defaultKernel, string notebook)
    {
        _cell = cell;
        Number = number;
        CellType = cell["cell_type"]?.GetValue<string>() ?? throw new NotebookFormatException($"{notebook}: cell {number} has no cell_type");
        if (CellType is not ("code" or "markdown" or "raw")) throw new NotebookFormatException($"{notebook}: cell {number} has an unknown cell_type \"{CellType}\"");
        var meta = cell["metadata"] as JsonObject;
        Kernel = Notebook.Normalize(meta?["polyglot_notebook"]?["kernelName"]?.GetValue<string>()
                                    ?? meta?["dotnet_interactive"]?["language"]?.GetValue<string>()
                                    ?? defaultKernel);
        if (CellType == "code")
        {
            if (cell["outputs"] is not JsonArray) cell["outputs"] = new JsonArray();
        }
    }

    /// <summary>The cell's text (nbformat stores it as a string or a list of lines).</summary>
    public string Source
    {
        get => _cell["source"] switch
        {
            JsonArray lines => string.Concat(lines.Select(l => l?.GetValue<string>() ?? "")),
            JsonValue v => v.GetValue<string>(),
            _ => "",
        };
        set => _cell["source"] = SplitLines(value);
    }

    /// <summary>nbformat metadata of the cell (created when absent).</summary>
    public JsonObject Metadata => _cell["metadata"] as JsonObject ?? (JsonObject)(_cell["metadata"] = new JsonObject());

    /// <summary>The outputs of a code cell.</summary>
    public JsonArray Outputs => _cell["outputs"] as JsonArray ?? throw new InvalidOperationException($"cell {Number} is a {CellType} cell and has no outputs");

    /// <summary>The execution count of a code cell (null: not run).</summary>
    public int? ExecutionCount
    {
        get => _cell["execution_count"]?.GetValueKind() == JsonValueKind.Number ? _cell["execution_count"]!.GetValue<int>() : null;
        set => _cell["execution_count"] = value is int n ? JsonValue.Create(n) : null;
    }

    /// <summary>Removes outputs and the execution count.</summary>
    public void ClearOutputs()
    {
        if (CellType != "code") return;
        Outputs.Clear();
        ExecutionCount = null;
    }

    /// <summary>Adds a stream output ("stdout" or "stderr").</summary>
    public void AddStream(string name, string text) => Outputs.Add(new JsonObject { ["output_type"] = "stream", ["name"] = name, ["text"] = SplitLines(text) });

    /// <summary>Adds display_data with a mime bundle (mime type → content).</summary>
    public void AddDisplay(IReadOnlyDictionary<string, string> bundle) =>
        Outputs.Add(new JsonObject { ["output_type"] = "display_data", ["data"] = Bundle(bundle), ["metadata"] = new JsonObject() });

    /// <summary>Adds an execute_result (the cell's value) with a mime bundle.</summary>
    public void AddResult(int executionCount, IReadOnlyDictionary<string, string> bundle) =>
        Outputs.Add(new JsonObject { ["output_type"] = "execute_result", ["execution_count"] = executionCount, ["data"] = Bundle(bundle), ["metadata"] = new JsonObject() });

    /// <summary>Adds an error output.</summary>
    public void AddError(string name, string value, IEnumerable<string> traceback) =>
        Outputs.Add(new JsonObject { ["output_type"] = "error", ["ename"] = name, ["evalue"] = value, ["traceback"] = new JsonArray(traceback.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray()) });

    private static JsonObject Bundle(IReadOnlyDictionary<string, string> bundle)
    {
        var data = new JsonObject();
        foreach (var (mime, content) in bundle) data[mime] = SplitLines(content);
        return data;
    }

    /// <summary>nbformat's multi-line string: a list of lines, each but the last ending in "\n".</summary>
    public static JsonArray SplitLines(string text)
    {
        var array = new JsonArray();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '\n') continue;
            array.Add(text[start..(i + 1)]);
            start = i + 1;
        }
        if (start < text.Length) array.Add(text[start..]);
        return array;
    }
}
