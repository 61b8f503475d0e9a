using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using AttnKit.Bench;
using AttnKit.Core;
using AttnKit.Notebook;
using Plotly.NET.CSharp;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnNotebooks.Runner;

/// <summary>One measured row of the bench.</summary>
internal sealed record BenchRow(string Suite, string Case, string Path, string Device, BenchShape Shape, BenchTiming? Timing, double Tflops, double TokensPerS,
    double PeakMb, string FlopsNote, string? Skipped, double? PyTorchMs = null, double? SecondsToTarget = null, double? Accuracy = null, double? FlexMs = null)
{
    public double? Ratio => Timing is not null && PyTorchMs is > 0 ? Timing.MedianMs / PyTorchMs : null;
    public double? FlexRatio => Timing is not null && FlexMs is > 0 ? Timing.MedianMs / FlexMs : null;
}

/// <summary>
/// <c>bench</c>: times every registered case (<see cref="BenchRegistry"/>) across sizes on the CPU or a GPU, and, where
/// PyTorch is importable, the same operations in PyTorch eager (bench/pytorch/attention.py) in the same invocation,
/// reporting the kit's time over PyTorch's. Writes bench.csv and bench.html (time against N on log-log axes, with the
/// fitted slope).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var suite = new Option<string>("--suite") { Description = "attention, decode, train, generate or all (all: attention and decode)", DefaultValueFactory = _ => "all" };
        suite.AcceptOnlyFromAmong("attention", "decode", "train", "generate", "all");
        var device = new Option<string?>("--device") { Description = "cpu or cuda (default: ATTN_DEVICE, else auto)" };
        var sizes = new Option<string?>("--sizes") { Description = "sequence lengths N (context lengths for decode), comma-separated; default by device" };
        var headDims = new Option<string?>("--head-dims") { Description = "head dimensions, comma-separated" };
        var dtypes = new Option<string?>("--dtypes") { Description = "bf16, fp16, fp32, comma-separated" };
        var batch = new Option<int?>("--batch") { Description = "batch size of the attention suite" };
        var heads = new Option<int?>("--heads") { Description = "query heads" };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "key/value heads for grouped-query rows and decode" };
        var decodeBatch = new Option<int?>("--decode-batch") { Description = "batch size of the decode suite (default 1)" };
        var cases = new Option<string?>("--cases") { Description = "only these rows (names, comma-separated)" };
        var repeats = new Option<int>("--repeats") { Description = "timed repeats per row (median reported)", DefaultValueFactory = _ => 10 };
        var profile = new Option<string?>("--profile") { Description = "train suite: quick (CPU recipe) or full (GPU recipe); default by device" };
        profile.AcceptOnlyFromAmong("quick", "full");
        var budget = new Option<double?>("--budget") { Description = "train suite: seconds the training may run (default: the recipe's limit)" };
        var pytorch = new Option<string>("--pytorch") { Description = "auto (when python3 has torch), on, off", DefaultValueFactory = _ => "auto" };
        pytorch.AcceptOnlyFromAmong("auto", "on", "off");
        var output = new Option<string>("--out") { Description = "folder for bench.csv and bench.html", DefaultValueFactory = _ => Path.Combine("results", "bench") };
        var command = new Command("bench", "Time the registered attention families, caches and models; compare with PyTorch where it is installed.")
        {
            suite, device, sizes, headDims, dtypes, batch, heads, kvHeads, decodeBatch, cases, repeats, profile, budget, pytorch, output,
        };
        command.SetAction(parse => Run(new Settings(parse.GetValue(suite)!, parse.GetValue(device), parse.GetValue(sizes), parse.GetValue(headDims), parse.GetValue(dtypes),
            parse.GetValue(batch), parse.GetValue(heads), parse.GetValue(kvHeads), parse.GetValue(decodeBatch), parse.GetValue(cases), parse.GetValue(repeats),
            parse.GetValue(pytorch)!, parse.GetValue(output)!, parse.GetValue(profile), parse.GetValue(budget))));
        return command;
    }

    internal sealed record Settings(string Suite, string? Device, string? Sizes, string? HeadDims, string? DTypes, int? Batch, int? Heads, int? KvHeads,
        int? DecodeBatch, string? Cases, int Repeats, string PyTorch, string Out, string? Profile = null, double? Budget = null);

    public static int Run(Settings s)
    {
        var console = AnsiConsole.Console;
        if (Console.IsOutputRedirected) console.Profile.Width = 200; // logs: keep table rows on one line
        KitSettings kit;
        try { kit = Kit.Resolve(s.Device ?? Environment.GetEnvironmentVariable("ATTN_DEVICE"), "quick"); }
        catch (InvalidOperationException e) { console.WriteLine("bench: " + e.Message); return 2; }
        var dev = kit.Device;
        bool cuda = kit.IsCuda;
        long[] ns; long[] dims; ScalarType[] types;
        try
        {
            ns = Longs(s.Sizes, cuda ? [512, 1024, 2048, 4096, 8192] : [64, 128, 256]);
            dims = Longs(s.HeadDims, cuda ? [64, 128] : [32]);
            types = (s.DTypes ?? (cuda ? "bf16" : "fp32")).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseDType).ToArray();
            if (s.Repeats < 1) throw new ArgumentException("--repeats: expected at least 1");
        }
        catch (ArgumentException e) { console.WriteLine("bench: " + e.Message); return 2; }
        long batch = s.Batch ?? (cuda ? 4 : 1), heads = s.Heads ?? (cuda ? 16 : 4), kv = s.KvHeads ?? (cuda ? 4 : 2), decodeBatch = s.DecodeBatch ?? 1;
        if (batch < 1 || heads < 1 || kv < 1 || heads % kv != 0 || decodeBatch < 1) { console.WriteLine("bench: --batch, --heads, --kv-heads and --decode-batch must be positive, and --kv-heads must divide --heads"); return 2; }
        long[] decodeNs = s.Sizes is null ? (cuda ? [1024, 4096, 16384, 65536, 131072] : [128, 512, 4096]) : ns;

        var selected = BenchRegistry.All().Where(c => s.Suite == "all" || c.Suite == s.Suite).ToList();
        if (s.Cases is not null)
        {
            var wanted = s.Cases.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            var unknown = wanted.Except(selected.Select(c => c.Name)).ToList();
            if (unknown.Count > 0) { console.WriteLine($"bench: unknown rows {string.Join(", ", unknown)}; rows: {string.Join(", ", selected.Select(c => c.Name))}"); return 2; }
            selected = selected.Where(c => wanted.Contains(c.Name)).ToList();
        }
        if (s.Budget is double b && !(b > 0)) { console.WriteLine($"bench: --budget: expected a positive number of seconds, got {b}"); return 2; }
        if (s.Suite == "all") console.WriteLine("bench: the train suite trains a model to a target (a minute or more) and the generate suite times generation; run them with --suite train and --suite generate");
        var scenarios = s.Suite is "train" or "generate" ? BenchRegistry.Scenarios().Where(c => c.Suite == s.Suite).ToList() : [];
        string workDir = Path.Combine(s.Out, "work");

        var plan = (from c in selected
                    from t in types
                    from d in dims
                    from n in c.Suite == "decode" ? decodeNs : ns
                    select (Case: c, Shape: new BenchShape(c.Suite == "decode" ? decodeBatch : batch, heads, kv, n, d, t))).ToList();
        console.WriteLine($"bench: {plan.Count} rows on {dev} ({(cuda ? Doctor.Run().FirstOrDefault(c => c.Name == "device")?.Detail : "CPU")})");

        var rows = new List<BenchRow>();
        bool live = console.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;
        void Measure(Action<string> status)
        {
            for (int i = 0; i < plan.Count; i++)
            {
                var (c, shape) = plan[i];
                status($"[{i + 1}/{plan.Count}] {c.Name} N={shape.Tokens} D={shape.HeadDim} {shape.DTypeName}");
                rows.Add(MeasureOne(c, shape, dev, s.Repeats));
                if (!live) console.WriteLine(Line(rows[^1]));
            }
        }
        if (live) console.Status().Start("measuring", ctx => Measure(text => ctx.Status(Markup.Escape(text))));
        else Measure(_ => { });
        foreach (var scenario in scenarios)
        {
            var trainProfile = s.Profile is null ? (cuda ? SizeProfile.Full : SizeProfile.Quick) : s.Profile == "full" ? SizeProfile.Full : SizeProfile.Quick;
            console.WriteLine($"bench: {scenario.Name} ({trainProfile.ToString().ToLowerInvariant()} profile)");
            IReadOnlyList<BenchScenarioRow> result = [];
            void RunScenario(Action<string> log) => result = scenario.Run(new BenchScenarioContext(dev, trainProfile, log, s.Budget, Path.Combine(workDir, scenario.Name)));
            if (live) console.Status().Start(scenario.Name, ctx => RunScenario(text => ctx.Status(Markup.Escape(text))));
            else RunScenario(console.WriteLine);
            foreach (var r in result)
            {
                var timing = new BenchTiming(r.MsPerStep, r.MsPerStep, 1, 1);
                rows.Add(new BenchRow(scenario.Suite, r.Case, r.Path, dev.ToString(), r.Shape, timing, 0, r.TokensPerSecond, 0, r.Note, null, null, r.SecondsToTarget, r.Metric));
                console.WriteLine(Line(rows[^1]));
            }
        }

        if (s.PyTorch != "off") rows = AddPyTorch(rows, s, cuda ? "cuda" : "cpu", batch, heads, kv, decodeBatch, decodeNs, console, required: s.PyTorch == "on");
        if (s.PyTorch != "off" && s.Suite == "generate") rows.AddRange(TransformersGenerate(Path.Combine(workDir, "generate"), cuda, rows, console));

        Directory.CreateDirectory(s.Out);
        var csv = Path.Combine(s.Out, "bench.csv");
        File.WriteAllText(csv, Csv(rows));
        var html = Path.Combine(s.Out, "bench.html");
        File.WriteAllText(html, Page(rows, $"AttnKit bench on {dev}"));
        console.Write(Table(rows));
        foreach (var note in rows.Where(r => r.Timing is not null).Select(r => r.Suite is "train" or "generate" ? $"{r.Case}: {r.Path}; {r.FlopsNote}" : $"{r.Case}: {r.Path}; FLOPs {r.FlopsNote}").Distinct()) console.WriteLine("  " + note);
        console.WriteLine($"bench: wrote {csv} and {html}");
        return 0;
    }

    private static BenchRow MeasureOne(IBenchCase c, BenchShape shape, Device dev, int repeats)
    {
        string devName = dev.ToString();
        if (!c.Supports(shape, dev, out var why))
            return new BenchRow(c.Suite, c.Name, c.Path, devName, shape, null, 0, 0, c.PeakBytes(shape) / 1048576.0, c.FlopsNote, why);
        try
        {
            using var run = c.Prepare(shape, dev);
            var timing = BenchTimer.Time(run, dev, repeats: repeats, minRepeatMs: dev.type == DeviceType.CUDA ? 20 : 5);
            double seconds = timing.MedianMs / 1000;
            return new BenchRow(c.Suite, c.Name, c.Path, devName, shape, timing, c.Flops(shape) / seconds / 1e12, c.Tokens(shape) / seconds,
                c.PeakBytes(shape) / 1048576.0, c.FlopsNote, null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new BenchRow(c.Suite, c.Name, c.Path, devName, shape, null, 0, 0, c.PeakBytes(shape) / 1048576.0, c.FlopsNote, "failed: " + e.Message.Split('\n')[0]);
        }
    }

    private static List<BenchRow> AddPyTorch(List<BenchRow> rows, Settings s, string device, long batch, long heads, long kv, long decodeBatch, long[] decodeNs, IAnsiConsole console, bool required)
    {
        var script = FindScript();
        var registry = BenchRegistry.All().ToDictionary(c => c.Name);
        IEnumerable<string> Counterparts(BenchRow r) => registry.TryGetValue(r.Case, out var c) ? new[] { c.PyTorchName, c.FlexName }.OfType<string>() : [];
        var names = rows.Where(r => r.Timing is not null).SelectMany(Counterparts).Distinct().ToList();
        if (script is null || names.Count == 0)
        {
            if (required) console.WriteLine("bench: --pytorch on, but bench/pytorch/attention.py was not found");
            return rows;
        }
        var result = new List<BenchRow>(rows);
        foreach (var group in rows.Where(r => r.Timing is not null).GroupBy(r => r.Suite))
        {
            var caseNames = group.SelectMany(Counterparts).Distinct().ToList();
            if (caseNames.Count == 0) continue;
            var sizes = string.Join(",", group.Select(r => r.Shape.Tokens).Distinct());
            var args = new List<string> { script, "--device", device, "--sizes", sizes, "--head-dims", string.Join(",", group.Select(r => r.Shape.HeadDim).Distinct()),
                "--dtypes", string.Join(",", group.Select(r => r.Shape.DTypeName).Distinct()), "--batch", batch.ToString(CultureInfo.InvariantCulture),
                "--heads", heads.ToString(CultureInfo.InvariantCulture), "--kv-heads", kv.ToString(CultureInfo.InvariantCulture),
                "--decode-batch", decodeBatch.ToString(CultureInfo.InvariantCulture), "--cases", string.Join(",", caseNames), "--repeats", s.Repeats.ToString(CultureInfo.InvariantCulture) };
            var (code, output) = Exec("python3", args);
            if (code != 0)
            {
                console.WriteLine(required || !output.Contains("No module named 'torch'", StringComparison.Ordinal)
                    ? $"bench: the PyTorch side failed (exit {code}): {string.Join(" ", output.Split('\n').TakeLast(3))}"
                    : "bench: PyTorch is not installed here; no side-by-side column");
                return result;
            }
            foreach (var line in output.Split('\n').Where(l => l.StartsWith('{')))
            {
                var o = JsonNode.Parse(line)!;
                if (o["ms"] is null) continue;
                var name = o["case"]!.GetValue<string>();
                for (int i = 0; i < result.Count; i++)
                {
                    var r = result[i];
                    if (!registry.TryGetValue(r.Case, out var c) || r.Shape.Tokens != o["tokens"]!.GetValue<long>() || r.Shape.HeadDim != o["head_dim"]!.GetValue<long>() || r.Shape.DTypeName != o["dtype"]!.GetValue<string>()) continue;
                    if (c.PyTorchName == name) result[i] = r = r with { PyTorchMs = o["ms"]!.GetValue<double>() };
                    if (c.FlexName == name) result[i] = r with { FlexMs = o["ms"]!.GetValue<double>() };
                }
            }
        }
        return result;
    }

    /// <summary>
    /// Hugging Face transformers' generate on the checkpoint the generate suite wrote (bench/pytorch/generate.py, where
    /// python3 has torch and transformers): one row per batch size and cache kind, and how many of the kit's greedy
    /// tokens it reproduced.
    /// </summary>
    private static IEnumerable<BenchRow> TransformersGenerate(string dir, bool cuda, List<BenchRow> rows, IAnsiConsole console)
    {
        var script = FindScript() is string a ? Path.Combine(Path.GetDirectoryName(a)!, "generate.py") : null;
        if (script is null || !File.Exists(script) || !Directory.Exists(Path.Combine(dir, "checkpoint"))) yield break;
        var kit = rows.FirstOrDefault(r => r.Case == "generate-b1");
        if (kit is null) yield break;
        var (code, output) = Exec("python3", [script, "--checkpoint", Path.Combine(dir, "checkpoint"), "--device", cuda ? "cuda" : "cpu", "--dtype", kit.Shape.DTypeName,
            "--prompt-file", Path.Combine(dir, "prompts.json"), "--expect", Path.Combine(dir, "expect.json"), "--new-tokens", AttnKit.Bench.GenerationBenchScenarios.NewTokens.ToString(CultureInfo.InvariantCulture), "--batches", "1,32"]);
        if (code != 0 && !output.Contains("\"case\"", StringComparison.Ordinal))
        {
            console.WriteLine($"bench: transformers' generate did not run (exit {code}): {string.Join(" ", output.Split('\n').TakeLast(3))}");
            yield break;
        }
        foreach (var line in output.Split('\n').Where(l => l.StartsWith('{')))
        {
            var o = JsonNode.Parse(line)!;
            var name = o["case"]!.GetValue<string>();
            if (o["error"] is JsonNode err) { console.WriteLine($"bench: {name}: {err.GetValue<string>().Split('\n')[0]}"); continue; }
            long b = o["batch"]!.GetValue<long>();
            double msPerToken = o["ms_per_token"]!.GetValue<double>(), tps = o["tokens_per_s"]!.GetValue<double>();
            string match = o["matches_kit"] is JsonNode m ? $"; {m.GetValue<int>()} of the kit's first {AttnKit.Bench.GenerationBenchScenarios.NewTokens} greedy tokens reproduced" : "";
            var row = new BenchRow("generate", name, $"transformers {o["transformers"]?.GetValue<string>()} generate ({o["attn_implementation"]?.GetValue<string>()}), torch {o["torch"]?.GetValue<string>()}",
                kit.Device, kit.Shape with { Batch = b }, new BenchTiming(msPerToken, msPerToken, 1, 1), 0, tps, 0,
                $"same checkpoint and prompts as the kit's rows; prefill {o["prefill_ms"]?.GetValue<double>():0.#} ms excluded{match}", null);
            console.WriteLine(Line(row));
            yield return row;
        }
    }

    private static string? FindScript()
    {
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            var p = Path.Combine(dir.FullName, "bench", "pytorch", "attention.py");
            if (File.Exists(p)) return p;
        }
        return null;
    }

    private static (int, string) Exec(string program, IEnumerable<string> args)
    {
        try
        {
            var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) start.ArgumentList.Add(a);
            using var p = Process.Start(start)!;
            var err = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output + err.GetAwaiter().GetResult());
        }
        catch (System.ComponentModel.Win32Exception e) { return (127, "No module named 'torch' (python3 not found: " + e.Message + ")"); }
    }

    private static long[] Longs(string? text, long[] fallback)
    {
        if (text is null) return fallback;
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var values = parts.Select(p => long.TryParse(p.TrimEnd('k', 'K'), out var v) && v > 0 ? (p.EndsWith('k') || p.EndsWith('K') ? v * 1024 : v) : throw new ArgumentException($"expected positive numbers, got '{p}'")).ToArray();
        return values.Length > 0 ? values : throw new ArgumentException("expected at least one number");
    }

    private static ScalarType ParseDType(string s) => s.ToLowerInvariant() switch
    {
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp16" or "float16" or "half" => ScalarType.Float16,
        "fp32" or "float32" or "float" => ScalarType.Float32,
        _ => throw new ArgumentException($"unknown dtype '{s}': expected bf16, fp16 or fp32"),
    };

    private static string F(double x, string format = "0.###") => double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "";

    private static string Line(BenchRow r) => r.Timing is null
        ? $"{r.Case} N={r.Shape.Tokens} D={r.Shape.HeadDim} {r.Shape.DTypeName}: skipped ({r.Skipped})"
        : r.Suite is "train" or "generate"
            ? $"{r.Case} B={r.Shape.Batch} N={r.Shape.Tokens} {r.Shape.DTypeName}: {F(r.Timing.MedianMs, "0.###")} ms/step, {F(r.TokensPerS, "0")} tokens/s" +
              (r.Accuracy is double a ? $", accuracy {F(a, "0.###")}" : "") + (r.SecondsToTarget is double t ? $", target in {F(t, "0.#")} s" : r.Case.EndsWith("train", StringComparison.Ordinal) ? ", target not reached" : "")
            : $"{r.Case} N={r.Shape.Tokens} D={r.Shape.HeadDim} {r.Shape.DTypeName}: {F(r.Timing.MedianMs, "0.####")} ms, {F(r.Tflops, "0.##")} TFLOP/s";

    internal static readonly string[] Columns = ["suite", "case", "path", "device", "dtype", "batch", "heads", "kv_heads", "tokens", "head_dim", "ms", "ms_min", "tflops", "tokens_per_s", "peak_mb", "pytorch_ms", "kit_over_pytorch", "flops_note", "skipped", "seconds_to_target", "accuracy", "flex_ms", "kit_over_flex"];

    private static string Csv(IEnumerable<BenchRow> rows)
    {
        static string Q(string s) => AttnKit.Catalog.Csv.Quote(s);
        var sb = new StringBuilder(string.Join(",", Columns)).Append('\n');
        foreach (var r in rows)
            sb.Append(string.Join(",", new[] { r.Suite, r.Case, r.Path, r.Device, r.Shape.DTypeName, r.Shape.Batch.ToString(CultureInfo.InvariantCulture), r.Shape.Heads.ToString(CultureInfo.InvariantCulture),
                r.Shape.KvHeads.ToString(CultureInfo.InvariantCulture), r.Shape.Tokens.ToString(CultureInfo.InvariantCulture), r.Shape.HeadDim.ToString(CultureInfo.InvariantCulture),
                r.Timing is null ? "" : F(r.Timing.MedianMs, "0.######"), r.Timing is null ? "" : F(r.Timing.MinMs, "0.######"), r.Timing is null ? "" : F(r.Tflops, "0.###"),
                r.Timing is null ? "" : F(r.TokensPerS, "0"), F(r.PeakMb, "0.#"), r.PyTorchMs is double p ? F(p, "0.######") : "", r.Ratio is double q ? F(q, "0.###") : "",
                r.FlopsNote, r.Skipped ?? "", r.SecondsToTarget is double st ? F(st, "0.##") : "", r.Accuracy is double acc ? F(acc, "0.####") : "",
                r.FlexMs is double fm ? F(fm, "0.######") : "", r.FlexRatio is double fr ? F(fr, "0.###") : "" }.Select(Q))).Append('\n');
        return sb.ToString();
    }

    private static Table Table(IEnumerable<BenchRow> rows)
    {
        var t = new Table().Border(TableBorder.Rounded);
        bool train = rows.Any(r => r.Suite is "train" or "generate");
        bool flex = rows.Any(r => r.FlexMs is not null);
        foreach (var c in new[] { "case", "dtype", "N", "D", "ms", "TFLOP/s", "tokens/s", "peak MiB", "PyTorch ms", "kit/PyTorch" }.Concat(train ? ["s to target", "accuracy"] : []).Concat(flex ? ["Flex ms", "kit/Flex"] : [])) t.AddColumn(c);
        foreach (var r in rows)
            t.AddRow(new[] { r.Case, r.Shape.DTypeName, r.Shape.Tokens.ToString(CultureInfo.InvariantCulture), r.Shape.HeadDim.ToString(CultureInfo.InvariantCulture),
                r.Timing is null ? "skipped" : F(r.Timing.MedianMs, "0.####"), r.Timing is null ? "" : F(r.Tflops, "0.#"), r.Timing is null ? "" : F(r.TokensPerS, "0"),
                F(r.PeakMb, "0"), r.PyTorchMs is double p ? F(p, "0.####") : "", r.Ratio is double q ? F(q, "0.00") : "" }
                .Concat(train ? [r.SecondsToTarget is double st ? F(st, "0.#") : "", r.Accuracy is double a ? F(a, "0.###") : ""] : [])
                .Concat(flex ? [r.FlexMs is double fm ? F(fm, "0.####") : "", r.FlexRatio is double fr ? F(fr, "0.00") : ""] : []).ToArray());
        return t;
    }

    private static string Page(List<BenchRow> rows, string title)
    {
        var sb = new StringBuilder($"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{System.Net.WebUtility.HtmlEncode(title)}</title>\n<script>{ChartHtml.PlotlyJs()}</script>\n" +
                                   "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}</style></head>\n<body>\n");
        sb.Append($"<h1>{System.Net.WebUtility.HtmlEncode(title)}</h1>\n<p>Median time per step against N on log-log axes; the legend gives each row's fitted slope (2: quadratic, 1: linear, 0: flat).</p>\n");
        foreach (var g in rows.Where(r => r.Timing is not null && r.Suite is not ("train" or "generate")).GroupBy(r => (r.Suite, r.Shape.HeadDim, r.Shape.DTypeName)))
        {
            var charts = g.GroupBy(r => r.Case).Select(c =>
            {
                var pts = c.OrderBy(r => r.Shape.Tokens).Select(r => (N: (double)r.Shape.Tokens, Ms: r.Timing!.MedianMs)).ToList();
                double slope = BenchTimer.LogLogSlope(pts);
                return Chart.Line<double, double, string>(pts.Select(p => p.N), pts.Select(p => p.Ms), Name: $"{c.Key} (slope {F(slope, "0.00")})", ShowMarkers: true);
            }).ToList();
            var chart = Chart.Combine(charts)
                .WithXAxisStyle<double, double, string>(TitleText: g.Key.Suite == "decode" ? "context length N" : "sequence length N", AxisType: Plotly.NET.StyleParam.AxisType.Log)
                .WithYAxisStyle<double, double, string>(TitleText: "ms per step", AxisType: Plotly.NET.StyleParam.AxisType.Log)
                .WithSize(900, 500);
            sb.Append($"<h2>{g.Key.Suite}: D = {g.Key.HeadDim}, {g.Key.DTypeName}</h2>\n").Append(ChartHtml.Render(chart)).Append('\n');
        }
        sb.Append("<h2>All rows</h2>\n<table><tr>").Append(string.Concat(Columns.Select(c => $"<th>{c}</th>"))).Append("</tr>\n");
        foreach (var record in AttnKit.Catalog.Csv.Parse(Csv(rows)).Skip(1))
            sb.Append("<tr>").Append(string.Concat(record.Fields.Select(c => $"<td>{System.Net.WebUtility.HtmlEncode(c)}</td>"))).Append("</tr>\n");
        return sb.Append("</table>\n</body></html>\n").ToString();
    }
}
