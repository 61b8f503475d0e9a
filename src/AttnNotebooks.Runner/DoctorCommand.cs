using System.CommandLine;
using AttnKit.Core;
using Spectre.Console;

namespace AttnNotebooks.Runner;

/// <summary><c>doctor</c>: what loaded, which device, which versions, and a small attention as a smoke test.</summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var device = new Option<string?>("--device") { Description = "auto, cpu, cuda or cuda:N (default: ATTN_DEVICE, else auto)" };
        device.AcceptOnlyFromAmong("auto", "cpu", "cuda", "cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:4", "cuda:5", "cuda:6", "cuda:7");
        var command = new Command("doctor", "Report what loaded (TorchSharp, libtorch, device, the Linux compatibility step) and run a small attention; exit 0 when all is well.")
        {
            device,
        };
        command.SetAction(parse => Run(parse.GetValue(device)));
        return command;
    }

    public static int Run(string? device)
    {
        var console = AnsiConsole.Console;
        var checks = Doctor.Run(device);
        var table = new Table().Border(TableBorder.Rounded).AddColumn("check").AddColumn("").AddColumn("found");
        foreach (var c in checks)
            table.AddRow(new Text(c.Name), c.Ok ? new Markup("[green]ok[/]") : new Markup("[red]FAIL[/]"), new Text(c.Detail + (c.Fix is null ? "" : "\nfix: " + c.Fix)));
        console.Write(table);
        var failed = checks.Where(c => !c.Ok).ToList();
        if (failed.Count == 0)
        {
            console.WriteLine("doctor: all is well");
            return 0;
        }
        foreach (var c in failed) console.WriteLine($"doctor: {c.Name}: {c.Detail}{(c.Fix is null ? "" : " -- fix: " + c.Fix)}");
        return 1;
    }
}
