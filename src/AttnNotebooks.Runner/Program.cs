using System.CommandLine;
using AttnKit.Core.Native;
using AttnNotebooks.Runner;
using AttnNotebooks.Runner.Execution;

// Before anything touches TorchSharp: the Linux compatibility step (also run when AttnKit loads).
NativeCompatibility.Ensure();

var root = new RootCommand("AttnNotebooks: run, export and check the attention notebooks and the AttnKit library.");
root.Subcommands.Add(DoctorCommand.Create());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(ExportCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(CatalogCommand.Create());
root.Subcommands.Add(StudentCommand.Create());
root.Subcommands.Add(ValidateCommand.Create());
root.Subcommands.Add(GradeCommand.Create());
root.Subcommands.Add(WorkerCommand.Create());
return await root.Parse(args).InvokeAsync();
