using System.CommandLine;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>The limits <c>validate</c> and <c>grade</c> share: time per cell and per notebook, memory, device.</summary>
internal sealed class ClassroomOptions(double cellTimeout, double notebookTimeout)
{
    private readonly Option<double> _cell = new("--cell-timeout") { Description = "seconds a cell may run", DefaultValueFactory = _ => cellTimeout };
    private readonly Option<double> _notebook = new("--notebook-timeout") { Description = "seconds a notebook may run", DefaultValueFactory = _ => notebookTimeout };
    private readonly Option<long> _memory = new("--memory-limit") { Description = "MB of memory a notebook's process may use", DefaultValueFactory = _ => 4096 };
    private readonly Option<string> _device = new("--device") { Description = "cpu (default: the same numbers everywhere), cuda or auto", DefaultValueFactory = _ => "cpu" };

    public void AddTo(Command command)
    {
        _device.AcceptOnlyFromAmong("auto", "cpu", "cuda");
        foreach (var o in new Option[] { _cell, _notebook, _memory, _device }) command.Options.Add(o);
    }

    /// <summary>The options, or null when a limit is not positive.</summary>
    public GradeOptions? Read(ParseResult parse)
    {
        double cell = parse.GetValue(_cell), notebook = parse.GetValue(_notebook);
        long memory = parse.GetValue(_memory);
        if (cell <= 0 || notebook <= 0 || memory <= 0) return null;
        return new GradeOptions(TimeSpan.FromSeconds(cell), TimeSpan.FromSeconds(notebook), memory, parse.GetValue(_device)!);
    }
}
