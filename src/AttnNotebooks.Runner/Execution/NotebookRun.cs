using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Execution;

/// <summary>What happened to one notebook in <c>run</c>.</summary>
/// <param name="Source">The notebook file.</param>
/// <param name="Name">Its path relative to the folder it was found in (for output names).</param>
/// <param name="Passed">Every cell ran without error within the time limits.</param>
/// <param name="Seconds">Wall time.</param>
/// <param name="Cells">Code cells that ran.</param>
/// <param name="Error">"notebook.ipynb, cell 3, line 2: ..." when it failed.</param>
/// <param name="Executed">The executed notebook (outputs so far, even when it failed), or null when it could not be read.</param>
public sealed record NotebookOutcome(string Source, string Name, bool Passed, double Seconds, int Cells, string? Error, Notebook? Executed);

/// <summary>Limits and environment of a run.</summary>
/// <param name="CellTimeout">Longest a cell may run.</param>
/// <param name="NotebookTimeout">Longest a notebook may run.</param>
/// <param name="Environment">Variables for the worker (ATTN_DEVICE, ATTN_PROFILE).</param>
public sealed record RunLimits(TimeSpan CellTimeout, TimeSpan NotebookTimeout, IReadOnlyDictionary<string, string> Environment);

/// <summary>
/// Runs one notebook in a worker process (<see cref="WorkerCommand"/>), following its progress, and kills it when a
/// cell or the notebook runs past its limit: the outputs of the cells before stay, and the cell that ran too long gets
/// an error output saying so.
/// </summary>
public static class NotebookRun
{
    /// <summary>Runs <paramref name="source"/>; <paramref name="progress"/> hears (cell, cells, state) as it goes.</summary>
    public static async Task<NotebookOutcome> RunAsync(string source, string name, RunLimits limits, Action<int, int, string> progress, CancellationToken cancel = default)
    {
        var watch = Stopwatch.StartNew();
        Notebook original;
        try { original = Notebook.Load(source); }
        catch (ArgumentException e) { return new(source, name, false, 0, 0, $"{name}: {e.Message}", null); }
        int codeCells = original.Cells.Count(c => c.CellType == "code");

        var work = Directory.CreateTempSubdirectory("attn-run-");
        var outPath = Path.Combine(work.FullName, "executed.ipynb");
        var eventsPath = Path.Combine(work.FullName, "events.jsonl");
        File.WriteAllText(eventsPath, "");
        try
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
                start.ArgumentList.Add(typeof(NotebookRun).Assembly.Location);
            foreach (var a in new[] { "worker", Path.GetFullPath(source), "--out", outPath, "--events", eventsPath }) start.ArgumentList.Add(a);
            foreach (var (k, v) in limits.Environment) start.Environment[k] = v;
            using var process = Process.Start(start)!;
            var log = new StringBuilder();
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            int current = 0, done = 0;
            var cellWatch = Stopwatch.StartNew();
            string? error = null, timeout = null;
            long read = 0;
            while (true)
            {
                bool exited = process.WaitForExit(100);
                // follow the events file
                using (var fs = new FileStream(eventsPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
                {
                    fs.Seek(read, SeekOrigin.Begin);
                    using var reader = new StreamReader(fs);
                    string? line;
                    while ((line = reader.ReadLine()) is not null)
                    {
                        var e = JsonNode.Parse(line)!;
                        switch (e["event"]!.GetValue<string>())
                        {
                            case "start": current = e["cell"]!.GetValue<int>(); cellWatch.Restart(); progress(++done, codeCells, $"cell {current}"); break;
                            case "end": if (!e["ok"]!.GetValue<bool>()) error = e["error"]?.GetValue<string>(); break;
                            case "done": error ??= e["error"]?.GetValue<string>(); break;
                        }
                    }
                    read = fs.Position;
                }
                if (exited) break;
                if (cancel.IsCancellationRequested) timeout = "the run was interrupted";
                else if (current > 0 && cellWatch.Elapsed > limits.CellTimeout) timeout = $"cell {current} ran longer than {limits.CellTimeout.TotalSeconds:0} s and was stopped";
                else if (watch.Elapsed > limits.NotebookTimeout) timeout = $"the notebook ran longer than {limits.NotebookTimeout.TotalSeconds:0} s and was stopped{(current > 0 ? $" in cell {current}" : "")}";
                if (timeout is null) continue;
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                process.WaitForExit();
                break;
            }

            var executed = File.Exists(outPath) ? Notebook.Load(outPath) : original.Clone();
            if (timeout is not null)
            {
                var cell = executed.Cells.FirstOrDefault(c => c.Number == current);
                if (cell is not null && cell.CellType == "code")
                {
                    cell.ClearOutputs();
                    cell.AddError("TimeoutError", timeout, [timeout]);
                }
                error = timeout;
            }
            else if (process.ExitCode != 0 && error is null)
            {
                string tail;
                lock (log) tail = string.Join('\n', log.ToString().Split('\n').TakeLast(15));
                error = $"the worker process ended with exit code {process.ExitCode}{(current > 0 ? $" in cell {current}" : "")} (a crash in native code?):\n{tail}";
            }
            bool passed = process.ExitCode == 0 && timeout is null && error is null;
            return new(source, name, passed, watch.Elapsed.TotalSeconds, done, passed ? null : $"{name}, {error}", executed);
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { }
        }
    }
}
