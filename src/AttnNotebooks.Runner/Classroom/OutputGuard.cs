using System.Security.Cryptography;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>
/// Watches the grader's output folder while a submission runs: a snapshot before (each file's size and hash), a
/// comparison after. A submission that writes there (grades.csv, another student's feedback) is reported; files it
/// created are removed, and the grade files are written whole at the end anyway.
/// </summary>
public sealed class OutputGuard
{
    private readonly string _folder;
    private readonly Dictionary<string, string> _before;

    /// <summary>Takes the snapshot of <paramref name="folder"/>.</summary>
    public OutputGuard(string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        _folder = Path.GetFullPath(folder);
        _before = Snapshot();
    }

    /// <summary>What changed since the snapshot ("grades.csv was written"); new files are deleted.</summary>
    public IReadOnlyList<string> Changes()
    {
        var after = Snapshot();
        var changes = new List<string>();
        foreach (var (path, hash) in after.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!_before.TryGetValue(path, out var old))
            {
                changes.Add($"the submission wrote {path} in the grader's output folder (removed)");
                try { File.Delete(Path.Combine(_folder, path)); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
            else if (old != hash) changes.Add($"the submission changed {path} in the grader's output folder");
        }
        foreach (var path in _before.Keys.Where(p => !after.ContainsKey(p)).Order(StringComparer.Ordinal))
            changes.Add($"the submission deleted {path} from the grader's output folder");
        return changes;
    }

    private Dictionary<string, string> Snapshot()
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!Directory.Exists(_folder)) return files;
        foreach (var f in Directory.EnumerateFiles(_folder, "*", SearchOption.AllDirectories))
        {
            try
            {
                using var stream = File.OpenRead(f);
                files[Path.GetRelativePath(_folder, f)] = stream.Length > (256 << 20) ? $"size {stream.Length}" : Convert.ToHexString(SHA256.HashData(stream));
            }
            catch (IOException) { files[Path.GetRelativePath(_folder, f)] = "unreadable"; }
            catch (UnauthorizedAccessException) { files[Path.GetRelativePath(_folder, f)] = "unreadable"; }
        }
        return files;
    }
}
