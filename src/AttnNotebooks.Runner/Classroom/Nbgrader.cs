using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>A cell's nbgrader metadata (<c>metadata.nbgrader</c>, schema version 3).</summary>
/// <param name="GradeId">The cell's unique id in the assignment.</param>
/// <param name="Solution">The student writes in it (its solution region is replaced by a stub).</param>
/// <param name="Grade">It is graded: for a code cell that is not a solution, an autograder test cell.</param>
/// <param name="Locked">The student must not change it.</param>
/// <param name="Points">Points of a graded cell.</param>
public sealed record NbgraderInfo(string GradeId, bool Solution, bool Grade, bool Locked, double? Points)
{
    /// <summary>An autograder test cell: graded code that is not a solution.</summary>
    public bool IsTest => Grade && !Solution;
}

/// <summary>Reads and writes the nbgrader metadata of cells, and the fingerprint the student version gives locked cells.</summary>
public static class Nbgrader
{
    /// <summary>nbgrader's metadata schema version.</summary>
    public const int SchemaVersion = 3;

    /// <summary>Where the student version keeps a locked cell's fingerprint: <c>metadata.attnkit.fingerprint</c> (nbgrader's own <c>checksum</c> is left to nbgrader).</summary>
    public const string FingerprintKey = "fingerprint";

    /// <summary>The cell's nbgrader metadata, or null when it has none.</summary>
    /// <exception cref="NotebookFormatException">The metadata is there but malformed (no grade_id, wrong types).</exception>
    public static NbgraderInfo? Of(NotebookCell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        if (cell.Metadata["nbgrader"] is not JsonObject m) return null;
        try
        {
            var id = m["grade_id"]?.GetValue<string>();
            if (string.IsNullOrWhiteSpace(id)) throw new NotebookFormatException($"cell {cell.Number}: metadata.nbgrader has no grade_id");
            double? points = m["points"] is JsonValue p ? p.GetValue<double>() : null;
            return new NbgraderInfo(id, Flag(m, "solution"), Flag(m, "grade"), Flag(m, "locked"), points);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            throw new NotebookFormatException($"cell {cell.Number}: metadata.nbgrader is malformed: {e.Message}");
        }
    }

    private static bool Flag(JsonObject m, string key) => m[key] is JsonValue v && v.GetValue<bool>();

    /// <summary>Gives <paramref name="cell"/> nbgrader metadata.</summary>
    public static void Set(NotebookCell cell, NbgraderInfo info)
    {
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentNullException.ThrowIfNull(info);
        var m = new JsonObject
        {
            ["grade"] = info.Grade,
            ["grade_id"] = info.GradeId,
            ["locked"] = info.Locked,
            ["schema_version"] = SchemaVersion,
            ["solution"] = info.Solution,
        };
        if (info.Points is double p) m["points"] = p;
        cell.Metadata["nbgrader"] = m;
    }

    /// <summary>"sha256:…" of the source with line endings and trailing white space normalized.</summary>
    public static string Fingerprint(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Normalize(source))));
    }

    /// <summary>The fingerprint stored in the cell, if any.</summary>
    public static string? StoredFingerprint(NotebookCell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        return cell.Metadata["attnkit"]?[FingerprintKey] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
    }

    /// <summary>Stores <paramref name="fingerprint"/> in the cell.</summary>
    public static void StoreFingerprint(NotebookCell cell, string fingerprint)
    {
        ArgumentNullException.ThrowIfNull(cell);
        ArgumentException.ThrowIfNullOrWhiteSpace(fingerprint);
        if (cell.Metadata["attnkit"] is not JsonObject o) cell.Metadata["attnkit"] = o = new JsonObject();
        o[FingerprintKey] = fingerprint;
    }

    /// <summary>Source text as compared: \n line endings, no trailing white space at the end of lines or of the cell.</summary>
    public static string Normalize(string source) =>
        source is null ? throw new ArgumentNullException(nameof(source)) : string.Join('\n', source.Replace("\r\n", "\n").Split('\n').Select(l => l.TrimEnd())).TrimEnd();
}
