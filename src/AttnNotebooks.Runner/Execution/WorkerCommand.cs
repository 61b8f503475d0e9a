using System.CommandLine;
using System.Text.Json;
using AttnKit.Core.Native;
using AttnKit.Notebook;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Execution;

/// <summary>
/// <c>worker NOTEBOOK --out FILE --events FILE [--folder DIR] [--continue-on-error]</c> (hidden): executes one notebook in
/// this process for <c>run</c>, <c>validate</c> and <c>grade</c>.
/// After every cell it saves the notebook executed so far to --out (atomically) and appends a JSON line to --events,
/// so the parent can show progress, stop a runaway cell by killing this process, and still keep every earlier output.
/// </summary>
internal static class WorkerCommand
{
    public static Command Create()
    {
        var notebook = new Argument<string>("notebook");
        var output = new Option<string>("--out") { Required = true };
        var events = new Option<string>("--events") { Required = true };
        var folder = new Option<string?>("--folder") { Description = "the folder relative paths resolve against (default: the notebook's)" };
        var continueOnError = new Option<bool>("--continue-on-error") { Description = "run the cells after a failed one too" };
        var command = new Command("worker", "Execute one notebook (used by run).") { notebook, output, events, folder, continueOnError };
        command.Hidden = true;
        command.SetAction((parse, cancel) => RunAsync(parse.GetValue(notebook)!, parse.GetValue(output)!, parse.GetValue(events)!,
            parse.GetValue(folder), parse.GetValue(continueOnError), cancel));
        return command;
    }

    private static async Task<int> RunAsync(string path, string outPath, string eventsPath, string? workFolder, bool continueOnError, CancellationToken cancel)
    {
        using var events = new StreamWriter(new FileStream(eventsPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        void Emit(object e) => events.WriteLine(JsonSerializer.Serialize(e));
        Notebook nb;
        try { nb = Notebook.Load(path); }
        catch (ArgumentException e) { Emit(new { @event = "done", ok = false, error = e.Message }); return 1; }

        NativeCompatibility.Ensure();
        KitFormatters.Register();
        var folder = Path.GetFullPath(workFolder ?? Path.GetDirectoryName(Path.GetFullPath(path))!);
        outPath = Path.GetFullPath(outPath);
        Directory.SetCurrentDirectory(folder); // as in the kernel: relative paths in cells resolve against the notebook's folder
        var executor = new NotebookExecutor(nb, folder) { ContinueOnError = continueOnError };
        var results = await executor.RunAsync((cell, result) =>
        {
            if (result is null) { Emit(new { @event = "start", cell }); return; }
            nb.Save(outPath);
            Emit(new { @event = "end", cell, ok = result.Ok, seconds = result.Seconds, error = result.Error });
        }, cancel);
        nb.Save(outPath);
        bool ok = results.All(r => r.Ok);
        Emit(new { @event = "done", ok, error = results.FirstOrDefault(r => !r.Ok)?.Error });
        return ok ? 0 : 1;
    }
}
