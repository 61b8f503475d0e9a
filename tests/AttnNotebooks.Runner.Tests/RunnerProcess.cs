using System.Diagnostics;

namespace AttnNotebooks.Runner.Tests;

/// <summary>Runs the built runner as a user would: a separate process, its exit code and its output.</summary>
internal static class RunnerProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "AttnNotebooks.Runner.dll");

    public static (int ExitCode, string Output) Run(IDictionary<string, string?>? env, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["COLUMNS"] = "200";
        if (env is not null) foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); throw new TimeoutException("the runner did not finish in 3 minutes"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }
}
