using System.Text.RegularExpressions;

namespace AttnNotebooks.Runner.Classroom;

/// <summary>
/// A name per submission, safe as a file name: the file's name; where several submissions share it (each student's
/// folder holds the same notebook), the folder's name; numbered if still not unique.
/// </summary>
public static partial class StudentNames
{
    [GeneratedRegex(@"[^A-Za-z0-9._-]+")]
    private static partial Regex Unsafe();

    /// <summary>The names of <paramref name="files"/>, in order.</summary>
    public static IReadOnlyList<string> For(IReadOnlyList<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        static string Safe(string s) { var t = Unsafe().Replace(s, "_").Trim('.', '_'); return t.Length == 0 ? "submission" : t; }
        var byFile = files.Select(f => Path.GetFileNameWithoutExtension(f)).ToList();
        var names = files.Select((f, i) => Safe(byFile.Count(n => n == byFile[i]) > 1 ? Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(f)))! : byFile[i])).ToList();
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < names.Count; i++)
        {
            var name = names[i];
            for (int n = 2; !used.Add(name); n++) name = $"{names[i]}-{n}";
            names[i] = name;
        }
        return names;
    }
}
