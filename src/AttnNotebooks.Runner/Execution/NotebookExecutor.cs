using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using AttnNotebooks.Runner.Notebooks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;

namespace AttnNotebooks.Runner.Execution;

/// <summary>How a cell went.</summary>
/// <param name="Cell">1-based cell number.</param>
/// <param name="Ok">No error.</param>
/// <param name="Seconds">Wall time.</param>
/// <param name="Error">"cell 3, line 2: CS0103: The name 'x' does not exist ..." when not ok.</param>
public sealed record CellResult(int Cell, bool Ok, double Seconds, string? Error = null);

/// <summary>
/// Executes a notebook's C# cells in order in one Roslyn script state (<c>CSharpScript.RunAsync</c>, then
/// <c>ContinueWithAsync</c>), the way the .NET Interactive C# kernel does: latest language version, the kernel's
/// default imports, <c>display()</c>, a cell's trailing expression as its result, console output as stream outputs.
/// A compile error or an exception stops the notebook (unless <see cref="ContinueOnError"/>); its cell gets an error output. Runs in the worker process,
/// which the run command can kill when a cell runs past its time.
/// </summary>
public sealed class NotebookExecutor
{
    /// <summary>The kernel's default imports.</summary>
    public static readonly string[] DefaultImports = ["System", "System.Text", "System.Collections", "System.Collections.Generic", "System.Threading.Tasks", "System.Linq"];

    private readonly Notebook _notebook;
    private readonly string _folder;
    private ScriptOptions _options;
    private ScriptState<object?>? _state;
    private readonly HashSet<string> _referenced = new(StringComparer.OrdinalIgnoreCase);
    // One globals object for the whole script state (ContinueWithAsync keeps the first); each cell attaches its outputs to it.
    private readonly ScriptGlobals _globals = new();
    private int _executionCount;

    /// <summary>Prepares to run <paramref name="notebook"/>, whose relative paths resolve against <paramref name="folder"/>.</summary>
    public NotebookExecutor(Notebook notebook, string folder)
    {
        _notebook = notebook;
        _folder = Path.GetFullPath(folder);
        _options = ScriptOptions.Default
            .WithLanguageVersion(LanguageVersion.Latest)
            .WithImports(DefaultImports)
            .WithReferences(FrameworkReferences().Append(MetadataReference.CreateFromFile(typeof(ScriptGlobals).Assembly.Location)))
            .WithMetadataResolver(ScriptMetadataResolver.Default.WithBaseDirectory(_folder).WithSearchPaths(_folder))
            .WithSourceResolver(new SourceFileResolver(ImmutableArray<string>.Empty, _folder))
            .WithEmitDebugInformation(true)
            .WithFileEncoding(Encoding.UTF8)
            .WithAllowUnsafe(true);
    }

    /// <summary>Run the cells after a failed one too, as nbgrader's autograder does (a grader scores every exercise); by default a failed cell stops the notebook.</summary>
    public bool ContinueOnError { get; init; }

    /// <summary>Runs every cell; <paramref name="onCell"/> hears each cell's start (result null) and end. Returns the results.</summary>
    public async Task<IReadOnlyList<CellResult>> RunAsync(Action<int, CellResult?> onCell, CancellationToken cancel = default)
    {
        var results = new List<CellResult>();
        foreach (var cell in _notebook.Cells)
        {
            if (cell.CellType != "code") continue;
            cell.ClearOutputs();
            onCell(cell.Number, null);
            var watch = Stopwatch.StartNew();
            var result = await RunCellAsync(cell, cancel);
            result = result with { Seconds = watch.Elapsed.TotalSeconds };
            results.Add(result);
            onCell(cell.Number, result);
            if (!result.Ok && !ContinueOnError) break;
        }
        return results;
    }

    private async Task<CellResult> RunCellAsync(NotebookCell cell, CancellationToken cancel)
    {
        if (cell.Kernel == "markdown") return new CellResult(cell.Number, true, 0);
        if (cell.Kernel != "csharp")
            return Fail(cell, ++_executionCount, "UnsupportedKernel", $"the cell is in the '{cell.Kernel}' kernel; the runner runs C# cells only", 1);
        CellPlan plan;
        try { plan = CellDirectives.Plan(cell.Source); }
        catch (DirectiveException e) { return Fail(cell, ++_executionCount, "DirectiveError", e.Message, e.Line); }
        if (plan.IsMarkdown) return new CellResult(cell.Number, true, 0);
        int executionCount = ++_executionCount;
        cell.ExecutionCount = executionCount;

        foreach (var name in plan.Packages.SelectMany(p => p.Assemblies).Concat(plan.OwnAssemblies))
            AddReference(name);

        var outputs = cell.Outputs;
        var stdout = new CellWriter(text => AppendStream(outputs, "stdout", text));
        var stderr = new CellWriter(text => AppendStream(outputs, "stderr", text));
        var displays = new List<JsonObject>();
        _globals.Attach(
            bundle => { stdout.Flush(); stderr.Flush(); cell.AddDisplay(bundle); displays.Add((JsonObject)outputs[^1]!); },
            (index, bundle) => { var d = displays[index]; var fresh = new JsonObject(); foreach (var (mime, content) in bundle) fresh[mime] = NotebookCell.SplitLines(content); d["data"] = fresh; });
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try
        {
            var options = _options.WithFilePath(CellPath(cell.Number));
            // As in the kernel, a cell that throws still advances the script state: what it declared before the
            // exception (its usings, variables, functions) stays visible to later cells.
            _state = _state is null
                ? await CSharpScript.Create<object?>(plan.Code, options, typeof(ScriptGlobals)).RunAsync(_globals, _ => true, cancel)
                : await _state.ContinueWithAsync<object?>(plan.Code, options, _ => true, cancel);
            stdout.Flush(); stderr.Flush();
            if (_state.Exception is { } thrown) return Failed(cell, thrown);
            if (HasValue(_state.Script)) cell.AddResult(executionCount, ScriptGlobals.Bundle(_state.ReturnValue, []));
            return new CellResult(cell.Number, true, 0);
        }
        catch (CompilationErrorException e)
        {
            stdout.Flush(); stderr.Flush();
            var first = e.Diagnostics.First(d => d.Severity == DiagnosticSeverity.Error);
            int line = first.Location.GetLineSpan().StartLinePosition.Line + 1;
            var messages = e.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => $"({d.Location.GetLineSpan().StartLinePosition.Line + 1},{d.Location.GetLineSpan().StartLinePosition.Character + 1}): error {d.Id}: {d.GetMessage()}").ToArray();
            cell.AddError("CompilationError", string.Join("\n", messages), messages);
            return new CellResult(cell.Number, false, 0, $"cell {cell.Number}, line {line}: {first.Id}: {first.GetMessage()}");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancel.IsCancellationRequested)
        {
            stdout.Flush(); stderr.Flush();
            return Failed(cell, e);
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }

    /// <summary>An exception from a cell: an error output with the user's frames, and where it happened.</summary>
    private static CellResult Failed(NotebookCell cell, Exception e)
    {
        {
            var inner = e is TargetInvocationException { InnerException: not null } t ? t.InnerException! : e;
            int? line = LineIn(inner, cell.Number);
            // the user's frames: up to where Roslyn's script machinery takes over
            var trace = (inner.ToString() ?? "").Split('\n').Select(l => l.TrimEnd('\r'))
                .TakeWhile(l => !l.Contains("--- End of stack trace from previous location", StringComparison.Ordinal) && !l.Contains("Microsoft.CodeAnalysis.Scripting", StringComparison.Ordinal)).ToArray();
            cell.AddError(inner.GetType().FullName ?? inner.GetType().Name, inner.Message, trace);
            return new CellResult(cell.Number, false, 0, $"cell {cell.Number}{(line is int l ? $", line {l}" : "")}: {inner.GetType().Name}: {inner.Message}");
        }
    }


    private CellResult Fail(NotebookCell cell, int executionCount, string name, string message, int line)
    {
        cell.ExecutionCount = executionCount;
        cell.AddError(name, message, [message]);
        return new CellResult(cell.Number, false, 0, $"cell {cell.Number}, line {line}: {message}");
    }

    private void AddReference(string assemblyName)
    {
        foreach (var asm in ShippedPackages.Closure([assemblyName]))
            if (_referenced.Add(asm.GetName().Name!))
                _options = _options.AddReferences(MetadataReference.CreateFromFile(asm.Location));
    }

    /// <summary>The file name Roslyn gives a cell, so compile errors and stack traces name it.</summary>
    public static string CellPath(int cell) => $"cell-{cell}.csx";

    private static int? LineIn(Exception e, int cell)
    {
        var m = Regex.Match(e.StackTrace ?? "", Regex.Escape(CellPath(cell)) + @":line (\d+)");
        return m.Success ? int.Parse(m.Groups[1].Value) : null;
    }

    /// <summary>A cell has a value when it ends in an expression with no semicolon whose type is not void, as in the kernel.</summary>
    private static bool HasValue(Script script)
    {
        var compilation = script.GetCompilation();
        var tree = compilation.SyntaxTrees.LastOrDefault();
        if (tree?.GetRoot() is not Microsoft.CodeAnalysis.CSharp.Syntax.CompilationUnitSyntax root) return false;
        if (root.Members.LastOrDefault() is not Microsoft.CodeAnalysis.CSharp.Syntax.GlobalStatementSyntax { Statement: Microsoft.CodeAnalysis.CSharp.Syntax.ExpressionStatementSyntax statement }
            || !statement.SemicolonToken.IsMissing)
            return false;
        var type = compilation.GetSemanticModel(tree).GetTypeInfo(statement.Expression).Type;
        return type is not null && type.SpecialType != SpecialType.System_Void;
    }

    private static void AppendStream(JsonArray outputs, string name, string text)
    {
        if (text.Length == 0) return;
        if (outputs.Count > 0 && outputs[^1] is JsonObject last && last["output_type"]?.GetValue<string>() == "stream" && last["name"]?.GetValue<string>() == name)
        {
            var joined = string.Concat(((JsonArray)last["text"]!).Select(x => x!.GetValue<string>())) + text;
            last["text"] = NotebookCell.SplitLines(joined);
            return;
        }
        outputs.Add(new JsonObject { ["output_type"] = "stream", ["name"] = name, ["text"] = NotebookCell.SplitLines(text) });
    }

    private static IEnumerable<MetadataReference> FrameworkReferences()
    {
        var tpa = (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries);
        var runtimeDir = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var formatting = typeof(Microsoft.DotNet.Interactive.Formatting.Formatter).Assembly.Location;
        return tpa.Where(p => Path.GetDirectoryName(p) == runtimeDir && !p.EndsWith(".ni.dll", StringComparison.Ordinal))
            .Append(formatting)
            .Select(p => (MetadataReference)MetadataReference.CreateFromFile(p));
    }

    /// <summary>A writer that hands text on as it is flushed (at each newline and before each display).</summary>
    private sealed class CellWriter(Action<string> sink) : TextWriter
    {
        private readonly StringBuilder _buffer = new();
        public override Encoding Encoding => Encoding.UTF8;
        public override void Write(char value) { lock (_buffer) { _buffer.Append(value); if (value == '\n') FlushLocked(); } }
        public override void Write(string? value) { if (value is null) return; lock (_buffer) { _buffer.Append(value); if (value.Contains('\n')) FlushLocked(); } }
        public override void Flush() { lock (_buffer) FlushLocked(); }
        private void FlushLocked() { if (_buffer.Length == 0) return; var text = _buffer.ToString(); _buffer.Clear(); sink(text); }
    }
}
