using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>
/// The student version of an instructor notebook, as nbgrader's generate_assignment makes it: solution regions become
/// the stub (<see cref="Markers.StubLines"/>; a code solution cell without markers becomes the stub entirely, a
/// markdown one "YOUR ANSWER HERE"), hidden tests are dropped, outputs cleared, and every locked cell carries the
/// fingerprint of the source the student receives (<c>metadata.attnkit.fingerprint</c>), so an edit shows. The
/// nbgrader metadata stays, so the notebook also works with nbgrader.
/// </summary>
public static class StudentVersion
{
    /// <summary>What a student sees of <paramref name="cell"/>.</summary>
    public static string SourceOf(NotebookCell cell, string where)
    {
        ArgumentNullException.ThrowIfNull(cell);
        var info = Nbgrader.Of(cell);
        var source = cell.Source;
        if (cell.CellType == "code")
        {
            if (info?.Solution == true) source = Markers.HasSolution(source) ? Markers.ClearSolutions(source, where) : Markers.Stub();
            if (info?.IsTest == true) source = Markers.RemoveHiddenTests(source, where);
        }
        else if (cell.CellType == "markdown" && info?.Solution == true)
        {
            source = Markers.MarkdownStub;
        }
        return source;
    }

    /// <summary>The student version of <paramref name="assignment"/>'s notebook (a new notebook; the source is left alone).</summary>
    public static Notebook Make(Assignment assignment)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        var notebook = assignment.Notebook.Clone();
        foreach (var cell in notebook.Cells)
        {
            var source = SourceOf(cell, $"{notebook.Name}, cell {cell.Number}");
            if (source != cell.Source) cell.Source = source;
            cell.ClearOutputs();
            if (Nbgrader.Of(cell) is { Locked: true, Solution: false }) Nbgrader.StoreFingerprint(cell, Nbgrader.Fingerprint(source));
        }
        return notebook;
    }
}
