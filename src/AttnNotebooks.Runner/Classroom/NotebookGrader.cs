using System.Security.Cryptography;
using AttnKit.Exercises;
using AttnNotebooks.Runner.Execution;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>Limits and settings of a grading run.</summary>
/// <param name="CellTimeout">Longest a cell may run.</param>
/// <param name="NotebookTimeout">Longest a notebook may run.</param>
/// <param name="MemoryLimitMB">Most memory a notebook's process may use.</param>
/// <param name="Device">ATTN_DEVICE for the notebook: cpu (the default: the same numbers everywhere), cuda or auto.</param>
public sealed record GradeOptions(TimeSpan CellTimeout, TimeSpan NotebookTimeout, long MemoryLimitMB, string Device);

/// <summary>
/// Runs one notebook for grading, in its own worker process with the limits of <see cref="GradeOptions"/>, every cell
/// run even after a failure. The checks in it write the student's raw outputs to a results file the grader made for
/// this run; the grader draws a fresh seed for the hidden cases, reads the file back and judges the outputs itself
/// (<see cref="ResultVerifier"/>). Whatever the notebook does (loop, exit, crash, allocate, write files) ends with its
/// own process.
/// </summary>
public static class NotebookGrader
{
    /// <summary>The most of a results file the grader reads; a larger one is tampering.</summary>
    public const long MaxResultsBytes = 64L << 20;

    /// <summary>Runs <paramref name="notebook"/> (cells as they are) with relative paths resolving against <paramref name="folder"/>, and grades it against <paramref name="assignment"/>'s exercises.</summary>
    public static async Task<SubmissionGrade> GradeAsync(string student, string file, Assignment assignment, Notebook notebook, string folder, GradeOptions options,
        IReadOnlyList<string> editedLocked, IReadOnlyList<string> notes, Action<int, int, string>? progress = null, CancellationToken cancel = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(student);
        ArgumentException.ThrowIfNullOrWhiteSpace(file);
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        ArgumentNullException.ThrowIfNull(assignment);
        ArgumentNullException.ThrowIfNull(notebook);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(editedLocked);
        ArgumentNullException.ThrowIfNull(notes);
        var work = Directory.CreateTempSubdirectory("attn-grade-");
        try
        {
            var path = Path.Combine(work.FullName, "submission.ipynb");
            notebook.Save(path);
            var results = Path.Combine(work.FullName, $"results-{Guid.NewGuid():N}.jsonl");
            File.WriteAllText(results, "");
            int seed = RandomNumberGenerator.GetInt32(0, int.MaxValue);
            var env = new Dictionary<string, string>
            {
                [GradeChannel.ResultsVariable] = results,
                [GradeChannel.SeedVariable] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["ATTN_DEVICE"] = options.Device,
                ["ATTN_PROFILE"] = "quick",
            };
            var limits = new RunLimits(options.CellTimeout, options.NotebookTimeout, env)
            {
                ContinueOnError = true,
                MemoryLimitMB = options.MemoryLimitMB,
                WorkingFolder = folder,
            };
            var run = await NotebookRun.RunAsync(path, student, limits, progress ?? ((_, _, _) => { }), cancel);

            var tampering = new List<string>();
            string[] lines = [];
            var info = new FileInfo(results);
            if (!info.Exists) tampering.Add("the results file was deleted");
            else if (info.Length > MaxResultsBytes) tampering.Add($"the results file grew to {info.Length >> 20} MB: something other than the checks wrote to it");
            else lines = await File.ReadAllLinesAsync(results, cancel);
            var ids = assignment.Exercises.Select(e => e.Exercise.Id).ToList();
            var report = ResultVerifier.Verify(lines, seed, ids);
            return GradeClassifier.Classify(student, file, assignment, run, report, editedLocked, notes, tampering);
        }
        finally
        {
            try { work.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
