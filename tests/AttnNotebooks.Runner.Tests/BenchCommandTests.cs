namespace AttnNotebooks.Runner.Tests;

/// <summary>A smoke run of bench on tiny sizes: its CSV has every column and a timed row per case and size.</summary>
public class BenchCommandTests
{
    [Fact]
    public void A_tiny_bench_writes_every_column_and_row()
    {
        var dir = Directory.CreateTempSubdirectory("attn-bench-").FullName;
        try
        {
            var (code, output) = RunnerProcess.Run(new Dictionary<string, string?> { ["ATTN_DEVICE"] = "cpu" },
                "bench", "--sizes", "32,64", "--head-dims", "16", "--batch", "1", "--heads", "2", "--kv-heads", "1", "--repeats", "1", "--pytorch", "off", "--out", dir);
            Assert.True(code == 0, output);
            var text = File.ReadAllText(Path.Combine(dir, "bench.csv"));
            Assert.StartsWith("suite,case,path,device,dtype,batch,heads,kv_heads,tokens,head_dim,ms,ms_min,tflops,tokens_per_s,peak_mb,pytorch_ms,kit_over_pytorch,flops_note,skipped,seconds_to_target,accuracy,flex_ms,kit_over_flex\n", text);
            var records = AttnKit.Catalog.Csv.Parse(text).Skip(1).Select(r => r.Fields.ToArray()).ToList();
            var cases = new[] { "sdpa", "sdpa-causal", "sdpa-gqa-causal", "sdpa-causal-fwd+bwd", "sliding-window-1024", "prefix-lm-256", "document-4", "reference-causal", "decode-static-cache" };
            foreach (var c in cases)
                foreach (var n in new[] { "32", "64" })
                {
                    var row = records.SingleOrDefault(f => f[1] == c && f[8] == n);
                    Assert.True(row is not null, $"no row for {c} at N={n}");
                    Assert.True(double.TryParse(row[10], System.Globalization.CultureInfo.InvariantCulture, out var ms) && ms > 0, $"{c} N={n} has no time: {row[^1]}");
                }
            var html = File.ReadAllText(Path.Combine(dir, "bench.html"));
            Assert.Contains("slope", html);
            Assert.Contains("class=\"attn-chart\"", html);
            Assert.Contains("kit/PyTorch", output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Bad_sizes_are_refused()
    {
        var (code, output) = RunnerProcess.Run(null, "bench", "--sizes", "12,abc", "--pytorch", "off", "--out", Path.GetTempPath());
        Assert.Equal(2, code);
        Assert.Contains("expected positive numbers, got 'abc'", output);
    }
}
