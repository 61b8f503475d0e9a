using System.Text.RegularExpressions;
using AttnKit.Exercises;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>An exercise as a notebook grades it: the registered exercise and the test cell that checks it.</summary>
/// <param name="Exercise">The library's exercise.</param>
/// <param name="GradeId">The test cell's grade_id.</param>
/// <param name="Cell">The test cell's number.</param>
/// <param name="SectionStart">The first cell after the previous test cell: the cells from here to <paramref name="Cell"/> are this exercise's.</param>
public sealed record GradedExercise(ExerciseDefinition Exercise, string GradeId, int Cell, int SectionStart);

/// <summary>An assignment's structure could not be used: duplicate ids, a test cell that checks no registered exercise, points that do not add up.</summary>
public sealed class AssignmentException(string message) : ArgumentException(message);

/// <summary>
/// A notebook read as an assignment: its nbgrader cells and the exercises its test cells check (each test cell calls
/// <c>Exercise.Check("id", ...)</c> for one or more registered exercises, and its nbgrader points are their points).
/// </summary>
public sealed partial class Assignment
{
    /// <summary>The notebook.</summary>
    public Notebook Notebook { get; }
    /// <summary>The cells with nbgrader metadata, by grade_id.</summary>
    public IReadOnlyDictionary<string, (NotebookCell Cell, NbgraderInfo Info)> Cells { get; }
    /// <summary>The exercises, in the order their test cells come.</summary>
    public IReadOnlyList<GradedExercise> Exercises { get; }
    /// <summary>Sum of the exercises' points.</summary>
    public double MaxPoints => Exercises.Sum(e => e.Exercise.Points);

    [GeneratedRegex(@"Exercise\s*\.\s*Check\s*\(\s*""([^""]+)""")]
    private static partial Regex CheckCall();

    private Assignment(Notebook notebook, Dictionary<string, (NotebookCell, NbgraderInfo)> cells, List<GradedExercise> exercises) =>
        (Notebook, Cells, Exercises) = (notebook, cells, exercises);

    /// <summary>Reads <paramref name="notebook"/>.</summary>
    /// <exception cref="AssignmentException">The structure cannot be graded (see the class remarks).</exception>
    /// <exception cref="MarkerException">A solution or hidden-test region is malformed or in the wrong kind of cell.</exception>
    public static Assignment Read(Notebook notebook)
    {
        ArgumentNullException.ThrowIfNull(notebook);
        var cells = new Dictionary<string, (NotebookCell, NbgraderInfo)>(StringComparer.Ordinal);
        var exercises = new List<GradedExercise>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        int sectionStart = 1;
        foreach (var cell in notebook.Cells)
        {
            var where = $"{notebook.Name}, cell {cell.Number}";
            var info = Nbgrader.Of(cell);
            if (cell.CellType == "code")
            {
                Markers.Validate(cell.Source, where);
                if (Markers.HasSolution(cell.Source) && info?.Solution != true)
                    throw new MarkerException($"{where}: has a // BEGIN SOLUTION region but is not a solution cell (metadata.nbgrader.solution)");
                if (Markers.HasHiddenTests(cell.Source) && info?.IsTest != true)
                    throw new MarkerException($"{where}: has a // BEGIN HIDDEN TESTS region but is not an autograder test cell (metadata.nbgrader.grade, not solution)");
            }
            if (info is null) continue;
            if (!cells.TryAdd(info.GradeId, (cell, info)))
                throw new AssignmentException($"{where}: grade_id \"{info.GradeId}\" is used by cell {cells[info.GradeId].Item1.Number} too; grade ids must be unique");
            if (!info.IsTest || cell.CellType != "code") continue;

            var ids = CheckCall().Matches(cell.Source).Select(m => m.Groups[1].Value).Distinct().ToList();
            if (ids.Count == 0)
                throw new AssignmentException($"{where} (\"{info.GradeId}\"): an autograder test cell must call Exercise.Check(\"id\", ...) for a registered exercise; the grader scores only those");
            double points = 0;
            foreach (var id in ids)
            {
                if (!AttnKit.Exercises.Exercise.TryGet(id, out var exercise))
                    throw new AssignmentException($"{where}: Exercise.Check(\"{id}\"): no such exercise in the library; the registered ones are {string.Join(", ", AttnKit.Exercises.Exercise.All.Select(e => e.Id))}");
                if (!seen.TryAdd(id, info.GradeId))
                    throw new AssignmentException($"{where}: exercise {id} is checked by \"{seen[id]}\" already; check each exercise once");
                exercises.Add(new GradedExercise(exercise, info.GradeId, cell.Number, sectionStart));
                points += exercise.Points;
            }
            if (info.Points is not double cellPoints || Math.Abs(cellPoints - points) > 1e-9)
                throw new AssignmentException($"{where} (\"{info.GradeId}\"): metadata.nbgrader.points is {info.Points?.ToString() ?? "missing"}, but the exercises it checks are worth {points}");
            sectionStart = cell.Number + 1;
        }
        return new Assignment(notebook, cells, exercises);
    }
}
