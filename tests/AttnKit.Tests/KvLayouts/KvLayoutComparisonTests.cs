using AttnKit.Attention.KvLayouts;
using AttnKit.Models;
using AttnKit.Models.Training;
using AttnKit.Tasks;
using AttnKit.Viz;
using Plotly.NET;
using TorchSharp;

namespace AttnKit.Tests.KvLayouts;

[Collection("global RNG")]
public class KvLayoutComparisonTests
{
    [Fact]
    public void The_layouts_sit_at_a_quarter_of_the_multi_head_cache_except_mha_gqa_and_tpa()
    {
        var layouts = KvLayoutComparison.Layouts(24, 64);
        var perToken = new Dictionary<string, long>();
        foreach (var spec in layouts)
        {
            torch.manual_seed(0);
            using var model = new TinyLm(spec.Config, T.Dev);
            perToken[spec.Name] = KvLayoutAccounting.Cost(model).KvElementsPerToken;
        }
        Assert.Equal(2L * 2 * 4 * 16, perToken["mha"]);                                    // layers · K and V · H · D
        Assert.Equal(perToken["mha"] / 2, perToken["gqa-2"]);
        Assert.Equal(2L * 2 * (4 + 16), perToken["tpa"]);
        foreach (var name in new[] { "mqa", "mla", "mla-prerope", "cca", "ccgqa", "sqa", "cla2" })
            Assert.True(perToken[name] * 4 == perToken["mha"], $"{name}: {perToken[name]} elements per token");
        Assert.Throws<ArgumentException>(() => KvLayoutComparison.Layouts(24, 48));
    }

    [Fact]
    public void Measure_trains_and_reports_the_formula_and_the_measurement_and_the_table_and_charts_hold_every_row()
    {
        var task = new MultiQueryAssociativeRecall(pairs: 2, sequenceLength: 12, vocabSize: 12);
        var options = new TrainOptions { Steps = 4, BatchSize = 4, WarmupSteps = 1, EvalEvery = 0, EvalSequences = 8, Seed = 3 };
        var specs = KvLayoutComparison.Layouts(12, 32).Where(s => s.Name is "mha" or "mla").ToList();
        var rows = specs.Select(s => KvLayoutComparison.Measure(s, task, options, 16, 32, spectrumSteps: [0, 2, 4])).ToList();
        Assert.All(rows, r => Assert.Equal(r.KvElementsPerToken * 4.0, r.MeasuredKvBytesPerToken));
        Assert.All(rows, r => Assert.InRange(r.Accuracy, 0, 1));
        Assert.All(rows, r => Assert.Equal([0, 2, 4], r.Spectra!.Select(s => s.Step)));
        Assert.All(rows, r => Assert.Null(r.Model));
        Assert.All(rows, r => Assert.True(r.DecodeFlopsPerToken > 0 && r.PrefillFlopsPerToken > 0));
        var table = KvLayoutComparison.Table(rows);
        Assert.Equal(2, table.Rows.Count);
        Assert.Equal(1.0, (double)table["KV ÷ first"][0]!);
        Assert.Equal(0.25, (double)table["KV ÷ first"][1]!);
        Assert.Equal(2, GenericChart.getTraces(KvLayoutChart.Tradeoff(rows)).Count());
        var spectra = rows.ToDictionary(r => r.Layout, r => r.Spectra!);
        Assert.Equal(3 * (2 + 1), GenericChart.getTraces(KvLayoutChart.Spectra(spectra)).Count()); // per step: one line per variant and the MP edge
        Assert.Throws<ArgumentException>(() => KvLayoutChart.Spectra(spectra, layer: 5));
        Assert.Throws<ArgumentException>(() => KvLayoutComparison.Measure(specs[0], new MultiQueryAssociativeRecall(2, 12, 40), options));
        var kept = KvLayoutComparison.Measure(specs[0], task, options with { Steps = 1 }, keepModel: true);
        using var model = kept.Model!;
        Assert.Equal("mha", model.Config.LayoutName);
    }
}
