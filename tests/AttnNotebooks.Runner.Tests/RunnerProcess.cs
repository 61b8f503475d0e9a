using System.Diagnostics;

namespace AttnNotebooks.Runner.Tests;

/// <summary>Runs the built runner as a user would: a separate process, its exit code and its output.</summary>
internal static class RunnerProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "AttnNotebooks.Runner.dll");

    public static (int ExitCode, string Output) Run(IDictionary<string, string?>? env, params string[] args) =>
        Exec("dotnet", [Dll, .. args], env, null, TimeSpan.FromMinutes(3));

    /// <summary>Runs a program to its end (killed after <paramref name="limit"/>), returning its exit code and its output and errors together.</summary>
    public static (int ExitCode, string Output) Exec(string program, IEnumerable<string> args, IDictionary<string, string?>? env, string? workingDirectory, TimeSpan limit)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        start.Environment["COLUMNS"] = "200";
        if (env is not null) foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(limit)) { p.Kill(true); throw new TimeoutException($"{program} did not finish in {limit.TotalMinutes:0} minutes"); }
        return (p.ExitCode, stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult());
    }
}
