using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Execution;

/// <summary>Why the worker was stopped, if it was.</summary>
public enum StopReason
{
    /// <summary>Not stopped: it ended by itself.</summary>
    None,
    /// <summary>A cell ran past the cell time limit.</summary>
    CellTimeout,
    /// <summary>The notebook ran past its time limit.</summary>
    NotebookTimeout,
    /// <summary>It used more memory than the limit.</summary>
    Memory,
    /// <summary>The run was cancelled.</summary>
    Interrupted,
}

/// <summary>What happened to one notebook in <c>run</c>.</summary>
/// <param name="Source">The notebook file.</param>
/// <param name="Name">Its path relative to the folder it was found in (for output names).</param>
/// <param name="Passed">Every cell ran without error within the time limits.</param>
/// <param name="Seconds">Wall time.</param>
/// <param name="Cells">Code cells that ran.</param>
/// <param name="Error">"notebook.ipynb, cell 3, line 2: ..." when it failed.</param>
/// <param name="Executed">The executed notebook (outputs so far, even when it failed), or null when it could not be read.</param>
public sealed record NotebookOutcome(string Source, string Name, bool Passed, double Seconds, int Cells, string? Error, Notebook? Executed)
{
    /// <summary>The worker's exit code (null when it never started).</summary>
    public int? ExitCode { get; init; }
    /// <summary>Why the worker was stopped, if it was.</summary>
    public StopReason Stopped { get; init; }
    /// <summary>The cell running when it was stopped or ended (0: none yet).</summary>
    public int LastCell { get; init; }
    /// <summary>The worker said it reached the end of the notebook.</summary>
    public bool Finished { get; init; }
    /// <summary>The cells that failed, as the worker reported them.</summary>
    public IReadOnlyList<CellResult> FailedCells { get; init; } = [];
    /// <summary>The last lines the worker printed outside the cells (crash reports).</summary>
    public string WorkerLog { get; init; } = "";
    /// <summary>Why it failed, without the notebook's name: "cell 3 ran longer than 10 s and was stopped".</summary>
    public string? Reason { get; init; }
}

/// <summary>Limits and environment of a run.</summary>
/// <param name="CellTimeout">Longest a cell may run.</param>
/// <param name="NotebookTimeout">Longest a notebook may run.</param>
/// <param name="Environment">Variables for the worker (ATTN_DEVICE, ATTN_PROFILE).</param>
public sealed record RunLimits(TimeSpan CellTimeout, TimeSpan NotebookTimeout, IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>Run the cells after a failed one too (graders do).</summary>
    public bool ContinueOnError { get; init; }
    /// <summary>Most memory the worker may use, in MiB: its managed heap is capped (DOTNET_GCHeapHardLimit) and it is stopped when its working set grows past it.</summary>
    public long? MemoryLimitMB { get; init; }
    /// <summary>The folder the notebook's relative paths resolve against (default: the notebook's own).</summary>
    public string? WorkingFolder { get; init; }
}

/// <summary>
/// Runs one notebook in a worker process (<see cref="WorkerCommand"/>), following its progress, and kills it when a
/// cell or the notebook runs past its limit or it uses more memory than allowed: the outputs of the cells before stay,
/// and the cell that was stopped gets an error output saying why. Nothing the worker writes to its progress file can
/// stop this side: lines that are not progress events are skipped.
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
            if (limits.WorkingFolder is not null) { start.ArgumentList.Add("--folder"); start.ArgumentList.Add(Path.GetFullPath(limits.WorkingFolder)); }
            if (limits.ContinueOnError) start.ArgumentList.Add("--continue-on-error");
            foreach (var (k, v) in limits.Environment) start.Environment[k] = v;
            long? memoryBytes = limits.MemoryLimitMB * 1024 * 1024;
            if (memoryBytes is long cap) start.Environment["DOTNET_GCHeapHardLimit"] = cap.ToString("X", CultureInfo.InvariantCulture);
            using var process = Process.Start(start)!;
            var log = new StringBuilder();
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.AppendLine(e.Data); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            int current = 0, done = 0;
            var cellWatch = Stopwatch.StartNew();
            string? error = null, stopMessage = null;
            var stopped = StopReason.None;
            bool finished = false;
            var failed = new List<CellResult>();
            long read = 0;
            while (true)
            {
                bool exited = process.WaitForExit(100);
                foreach (var e in ReadEvents(eventsPath, ref read))
                {
                    switch (Text(e, "event"))
                    {
                        case "start" when Value<int>(e, "cell") is int cell: current = cell; cellWatch.Restart(); progress(++done, codeCells, $"cell {current}"); break;
                        case "end" when Value<bool>(e, "ok") == false && Value<int>(e, "cell") is int cell:
                            var message = Text(e, "error");
                            error ??= message;
                            failed.Add(new CellResult(cell, false, Value<double>(e, "seconds") ?? 0, message));
                            break;
                        case "done": finished = true; error ??= Text(e, "error"); break;
                    }
                }
                if (exited) break;
                long used = 0;
                if (memoryBytes is not null)
                {
                    try { process.Refresh(); used = Math.Max(process.WorkingSet64, process.PeakWorkingSet64); }
                    catch (InvalidOperationException) { }
                }
                string where = current > 0 ? $" in cell {current}" : "";
                if (cancel.IsCancellationRequested) (stopped, stopMessage) = (StopReason.Interrupted, "the run was interrupted");
                else if (memoryBytes is long limit && used > limit) (stopped, stopMessage) = (StopReason.Memory, $"the notebook used more than {limits.MemoryLimitMB} MB of memory and was stopped{where}");
                else if (current > 0 && cellWatch.Elapsed > limits.CellTimeout) (stopped, stopMessage) = (StopReason.CellTimeout, $"cell {current} ran longer than {limits.CellTimeout.TotalSeconds:0.#} s and was stopped");
                else if (watch.Elapsed > limits.NotebookTimeout) (stopped, stopMessage) = (StopReason.NotebookTimeout, $"the notebook ran longer than {limits.NotebookTimeout.TotalSeconds:0.#} s and was stopped{where}");
                if (stopped == StopReason.None) continue;
                try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                process.WaitForExit();
                break;
            }

            Notebook executed;
            try { executed = File.Exists(outPath) ? Notebook.Load(outPath) : original.Clone(); }
            catch (ArgumentException) { executed = original.Clone(); } // the worker's file is not to be trusted blindly
            string tail;
            lock (log) tail = string.Join('\n', log.ToString().Split('\n').TakeLast(15));
            if (stopMessage is not null)
            {
                var cell = executed.Cells.FirstOrDefault(c => c.Number == current);
                if (cell is not null && cell.CellType == "code")
                {
                    cell.ClearOutputs();
                    cell.AddError(stopped == StopReason.Memory ? "MemoryLimitError" : "TimeoutError", stopMessage, [stopMessage]);
                }
                error = stopMessage;
            }
            else if (process.ExitCode != 0 && error is null)
            {
                error = $"the worker process ended with exit code {process.ExitCode}{(current > 0 ? $" in cell {current}" : "")} (a crash in native code?):\n{tail}";
            }
            bool passed = process.ExitCode == 0 && stopMessage is null && error is null && finished;
            if (!passed && error is null) error = $"the worker process ended before the end of the notebook{(current > 0 ? $", in cell {current}" : "")}";
            return new(source, name, passed, watch.Elapsed.TotalSeconds, done, passed ? null : $"{name}, {error}", executed)
            {
                ExitCode = process.ExitCode,
                Stopped = stopped,
                LastCell = current,
                Finished = finished,
                FailedCells = failed,
                WorkerLog = tail,
                Reason = passed ? null : error,
            };
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { }
        }
    }

    private static T? Value<T>(JsonObject o, string key) where T : struct => o[key] is JsonValue v && v.TryGetValue<T>(out var x) ? x : null;
    private static string? Text(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<string>(out var x) ? x : null;

    /// <summary>The complete lines added to the events file since <paramref name="read"/> that are JSON objects; anything else is skipped.</summary>
    private static List<JsonObject> ReadEvents(string path, ref long read)
    {
        var events = new List<JsonObject>();
        byte[] bytes;
        try
        {
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (fs.Length <= read) return events;
            fs.Seek(read, SeekOrigin.Begin);
            bytes = new byte[Math.Min(fs.Length - read, 1 << 24)];
            bytes = bytes[..fs.Read(bytes, 0, bytes.Length)];
        }
        catch (IOException) { return events; }
        int end = Array.LastIndexOf(bytes, (byte)'\n');
        if (end < 0) return events; // only part of a line so far
        read += end + 1;
        foreach (var line in Encoding.UTF8.GetString(bytes, 0, end).Split('\n'))
        {
            try
            {
                if (JsonNode.Parse(line) is JsonObject o && o["event"] is JsonValue) events.Add(o);
            }
            catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException or FormatException) { }
        }
        return events;
    }
}
