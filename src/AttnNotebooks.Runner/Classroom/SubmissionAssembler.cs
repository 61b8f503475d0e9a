using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>The notebook the grader runs for a submission, and what it noticed while building it.</summary>
/// <param name="Notebook">Instructor cells with the student's solution cells in place.</param>
/// <param name="Notes">Edited or missing locked cells, missing solution cells, cells the grader did not run.</param>
/// <param name="EditedLocked">grade_ids of locked cells the student changed or removed.</param>
public sealed record AssembledSubmission(Notebook Notebook, IReadOnlyList<string> Notes, IReadOnlyList<string> EditedLocked);

/// <summary>
/// Builds the notebook to grade from the instructor's source and a submission: every cell comes from the instructor's
/// source (locked cells, test cells with their hidden tests, the text) except the solution cells, whose source comes
/// from the submission's cell with the same grade_id. A student therefore cannot change a check: an edited locked
/// cell is reported and the instructor's version runs. Cells the student added are not run.
/// </summary>
public static class SubmissionAssembler
{
    /// <summary>Assembles <paramref name="submission"/> into <paramref name="assignment"/>.</summary>
    public static AssembledSubmission Assemble(Assignment assignment, Notebook submission)
    {
        ArgumentNullException.ThrowIfNull(assignment);
        ArgumentNullException.ThrowIfNull(submission);
        var notes = new List<string>();
        var edited = new List<string>();
        var theirs = new Dictionary<string, NotebookCell>(StringComparer.Ordinal);
        var unmarked = new List<NotebookCell>();
        foreach (var cell in submission.Cells)
        {
            NbgraderInfo? info;
            try { info = Nbgrader.Of(cell); }
            catch (NotebookFormatException) { info = null; }
            if (info is null) { if (cell.CellType == "code") unmarked.Add(cell); continue; }
            if (!theirs.TryAdd(info.GradeId, cell)) notes.Add($"the submission has two cells with grade_id \"{info.GradeId}\"; the first was used");
        }

        var graded = assignment.Notebook.Clone();
        var studentSources = new HashSet<string>(StringComparer.Ordinal);
        foreach (var cell in graded.Cells)
        {
            cell.ClearOutputs();
            var info = Nbgrader.Of(cell);
            var where = $"{assignment.Notebook.Name}, cell {cell.Number}";
            var seen = StudentVersion.SourceOf(cell, where);
            studentSources.Add(Nbgrader.Normalize(seen));
            if (info is null) continue;
            theirs.TryGetValue(info.GradeId, out var mine);
            if (info.Solution)
            {
                if (mine is not null) cell.Source = mine.Source;
                else
                {
                    cell.Source = seen;
                    notes.Add($"solution cell \"{info.GradeId}\" is missing from the submission: graded as not answered");
                }
            }
            else if (info.Locked)
            {
                if (mine is null)
                {
                    edited.Add(info.GradeId);
                    notes.Add($"locked cell \"{info.GradeId}\" was removed; the grader ran the instructor's version");
                }
                else if (Nbgrader.Normalize(mine.Source) != Nbgrader.Normalize(seen))
                {
                    edited.Add(info.GradeId);
                    notes.Add($"locked cell \"{info.GradeId}\" was edited; the grader ran the instructor's version");
                }
            }
        }
        int added = unmarked.Count(c => !studentSources.Contains(Nbgrader.Normalize(c.Source)));
        if (added > 0)
            notes.Add($"{added} code cell{(added == 1 ? "" : "s")} outside the solution cells {(added == 1 ? "was" : "were")} added or changed and not run: the grader runs the assignment's cells and your solution cells");
        return new AssembledSubmission(graded, notes, edited);
    }
}
