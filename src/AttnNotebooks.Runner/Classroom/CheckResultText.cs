namespace AttnNotebooks.Runner.Classroom;

/// <summary>Points as the reports write them: "2", "1.5", "0.33".</summary>
internal static class CheckResultText
{
    public static string Num(double x) => x.ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);
}
