using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner;

/// <summary>Writes the HTML site from executed notebooks (the site writer lands with the export command).</summary>
internal static class SiteExport
{
    public static void Write(IReadOnlyList<(string Name, Notebook Notebook, bool? Passed, double Seconds)> notebooks, string outDir)
    {
        Directory.CreateDirectory(outDir);
    }
}
