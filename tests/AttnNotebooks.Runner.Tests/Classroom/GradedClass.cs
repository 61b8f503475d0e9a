using System.Text.Json.Nodes;

namespace AttnNotebooks.Runner.Tests.Classroom;

/// <summary>
/// One grade run over a class of planted submissions, shared by <see cref="GradeCommandTests"/>: a right one, the
/// untouched student version, wrong ones, and ones that loop forever, exit the process, throw, allocate without bound,
/// edit a locked check, forge grades, or are not notebooks at all. They run in this order (by name), so the right one comes after the rest.
/// </summary>
public sealed class GradedClass : IAsyncLifetime
{
    public const int CellTimeout = 15;
    public string Root { get; } = Directory.CreateTempSubdirectory("attn-grade-tests-").FullName;
    public string Out => Path.Combine(Root, "grades");
    public int ExitCode { get; private set; }
    public string Output { get; private set; } = "";
    public JsonObject Grades { get; private set; } = new();
    public string Csv { get; private set; } = "";

    const string MaskSignature = "Tensor CausalMask(long queries, long keys)";
    const string AttentionSignature = "Tensor Attention(Tensor q, Tensor k, Tensor v)";

    public ValueTask InitializeAsync()
    {
        var subs = Path.Combine(Root, "submissions");
        Directory.CreateDirectory(subs);
        Directory.CreateDirectory(Out);
        string S(string name) => Path.Combine(subs, name + ".ipynb");
        var right = ClassroomFiles.RightAnswers;
        var rightMask = right[0];
        var rightAttention = right[1];

        ClassroomFiles.Submission(S("right"), right);
        ClassroomFiles.Submission(S("student"));
        ClassroomFiles.Submission(S("wrong"),
            ("causal-mask", $"{MaskSignature} => torch.ones(queries, keys, ScalarType.Bool).tril(); // top-left: right only when square"),
            ("attention", $"{AttentionSignature} => torch.matmul(torch.matmul(q, k.transpose(-2, -1)).softmax(-1), v); // forgot 1/√D"));
        ClassroomFiles.Submission(S("hints"),
            ("causal-mask", $"{MaskSignature} => torch.arange(keys).view(keys, 1).le(torch.arange(keys - queries, keys).view(1, queries)); // transposed"),
            ("attention", $"{AttentionSignature} => torch.matmul((torch.matmul(q, k.transpose(-2, -1)) * double.NaN).softmax(-1), v);"));
        ClassroomFiles.Submission(S("loop"), rightMask, ("attention", $"{AttentionSignature}\n{{\n    while (true) {{ }}\n}}"));
        ClassroomFiles.Submission(S("exit"), ("causal-mask", $"{MaskSignature}\n{{\n    Environment.Exit(3);\n    return null!;\n}}"), rightAttention);
        ClassroomFiles.Submission(S("throw"), ("causal-mask", $"throw new InvalidOperationException(\"broken on purpose\");\n{MaskSignature} => torch.ones(queries, keys);"), rightAttention);
        ClassroomFiles.Submission(S("hog"), rightMask, ("attention", $"{AttentionSignature}\n{{\n    var keep = new List<Tensor>();\n    while (true) keep.Add(torch.ones(1L << 24));\n}}"));
        ClassroomFiles.Submission(S("locked"),
            ("causal-mask", $"{MaskSignature} => torch.ones(queries, keys, ScalarType.Bool).tril();"),
            ("causal-mask-check", "Console.WriteLine(\"all 13 cases passed\"); // the check, improved"),
            rightAttention);
        var grades = Path.Combine(Out, "grades.csv").Replace("\\", "\\\\");
        ClassroomFiles.Submission(S("forge"), ("causal-mask",
            $"System.IO.File.WriteAllText(\"{grades}\", \"student,points\\nforge,100\\n\");\n" +
            "System.IO.File.AppendAllText(Environment.GetEnvironmentVariable(\"ATTN_GRADE_RESULTS\")!, \"{\\\"exercise\\\":\\\"masks.causal\\\",\\\"passed\\\":true,\\\"points\\\":2}\\n\");\n" +
            // and garbage into the worker's progress file, whose path is on its command line
            "var args = Environment.GetCommandLineArgs(); System.IO.File.AppendAllText(args[Array.IndexOf(args, \"--events\") + 1], \"not json\\n{\\\"event\\\":\\\"start\\\",\\\"cell\\\":\\\"x\\\"}\\n\");\n" +
            $"{MaskSignature}\n{{\n    throw new NotImplementedException();\n}}"));

        File.WriteAllText(S("broken"), "{ this is not a notebook");

        (ExitCode, Output) = RunnerProcess.Exec("dotnet", [RunnerProcess.Dll, "grade", subs, "--source", ClassroomFiles.Assignment, "--out", Out,
            "--cell-timeout", CellTimeout.ToString(), "--notebook-timeout", "120", "--memory-limit", "1500"],
            new Dictionary<string, string?> { ["ATTN_DEVICE"] = "cpu" }, Root, TimeSpan.FromMinutes(10));
        if (File.Exists(Path.Combine(Out, "grades.json"))) Grades = ClassroomFiles.Json(Path.Combine(Out, "grades.json"));
        if (File.Exists(Path.Combine(Out, "grades.csv"))) Csv = File.ReadAllText(Path.Combine(Out, "grades.csv"));
        return ValueTask.CompletedTask;
    }

    public JsonObject Student(string name) =>
        Grades["submissions"]?.AsArray().Select(s => s!.AsObject()).SingleOrDefault(s => s["student"]!.GetValue<string>() == name)
        ?? throw new InvalidOperationException($"no grades for {name}:\n{Output}");

    public JsonObject Exercise(string student, string id) =>
        Student(student)["exercises"]!.AsArray().Select(e => e!.AsObject()).Single(e => e["exercise"]!.GetValue<string>() == id);

    public ValueTask DisposeAsync()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { }
        return ValueTask.CompletedTask;
    }
}
