using System.CommandLine;
using AttnNotebooks.Runner.Classroom;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner;

/// <summary>
/// <c>student SRC... --out DIR</c>: writes the student version of each instructor notebook (<see cref="StudentVersion"/>):
/// solution regions become a stub that compiles, hidden tests are dropped, outputs cleared, locked cells fingerprinted.
/// </summary>
internal static class StudentCommand
{
    public static Command Create()
    {
        var sources = new Argument<string[]>("sources") { Description = "instructor notebooks, or folders of them", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "where the student notebooks go (same file names)", Required = true };
        var command = new Command("student", "Write student versions of instructor notebooks: solutions stubbed, hidden tests removed, outputs cleared.") { sources, output };
        command.SetAction(parse => Run(parse.GetValue(sources)!, parse.GetValue(output)!));
        return command;
    }

    private static int Run(string[] sources, string outDir)
    {
        var notebooks = new List<(string Path, string Name)>();
        try { notebooks.AddRange(RunCommand.Find(sources)); }
        catch (ArgumentException e) { Console.WriteLine("student: " + e.Message); return 2; }
        if (notebooks.Count == 0) { Console.WriteLine("student: no notebooks found"); return 2; }
        var duplicate = notebooks.GroupBy(n => n.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) { Console.WriteLine($"student: two notebooks would both be written as {duplicate.Key}"); return 2; }

        var written = new List<(Notebook Notebook, string Target, Assignment Assignment)>();
        foreach (var (path, name) in notebooks)
        {
            var target = Path.GetFullPath(Path.Combine(outDir, name));
            if (target == Path.GetFullPath(path)) { Console.WriteLine($"student: {name}: --out would overwrite the instructor's notebook; choose another folder"); return 2; }
            try
            {
                var assignment = Assignment.Read(Notebook.Load(path));
                written.Add((StudentVersion.Make(assignment), target, assignment));
            }
            catch (ArgumentException e) { Console.WriteLine($"student: {e.Message}"); return 2; }
        }
        foreach (var (notebook, target, assignment) in written) // nothing is written unless every source is sound
        {
            notebook.Save(target);
            Console.WriteLine(assignment.Exercises.Count == 0
                ? $"wrote {target} (no exercises: no autograder test cell calls Exercise.Check)"
                : $"wrote {target} ({assignment.Exercises.Count} exercise{(assignment.Exercises.Count == 1 ? "" : "s")}, {CheckResultText.Num(assignment.MaxPoints)} points)");
        }
        Console.WriteLine($"{written.Count} student notebook{(written.Count == 1 ? "" : "s")} written");
        return 0;
    }
}
