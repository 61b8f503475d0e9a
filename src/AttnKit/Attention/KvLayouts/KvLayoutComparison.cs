using AttnKit.Core;
using AttnKit.Models;
using AttnKit.Models.Training;
using AttnKit.Tasks;
using Microsoft.Data.Analysis;
using TorchSharp;

namespace AttnKit.Attention.KvLayouts;

/// <summary>A layout of the comparison: a short name, the catalog id of its paper, and the model configuration.</summary>
public sealed record LayoutSpec(string Name, string Paper, TinyLmConfig Config);

/// <summary>One row of the comparison: costs by formula, the cache measured, and quality after training.</summary>
public sealed record LayoutRow(string Layout, string Paper, long AttentionParameters, long KvElementsPerToken, double MeasuredKvBytesPerToken,
    double PrefillFlopsPerToken, double DecodeFlopsPerToken, double Accuracy, double Loss)
{
    /// <summary>The spectrum of every layer's W_Q·W_Kᵀ at the steps asked for (<see cref="KvLayoutComparison.Measure"/>), else null.</summary>
    public IReadOnlyList<(int Step, SpectrumDiagnostics[] Layers)>? Spectra { get; init; }
    /// <summary>The trained model when kept (the caller disposes it), else null.</summary>
    public TinyLm? Model { get; init; }
}

/// <summary>
/// The comparison of notebook 03: every layout of this folder in the same small model, at a quarter of the multi-head
/// cache where the layout allows it, trained the same way on the same task; costs from <see cref="KvLayoutAccounting"/>.
/// </summary>
public static class KvLayoutComparison
{
    /// <summary>
    /// The layouts at model width <paramref name="modelDim"/> with 4 query heads of dim d/4: MHA, GQA-2, and, at a quarter
    /// of MHA's cache (2·D elements per token and layer): MQA, MLA (decoupled and pre-RoPE), CCA and CCGQA, sparse-query
    /// (2 query heads, 1 key/value head), CLA2 over GQA-2; TPA with ranks (4, 1, 1) caches 2·(4 + D), the closest it gets.
    /// </summary>
    public static IReadOnlyList<LayoutSpec> Layouts(int vocabSize, int modelDim = 64, int layers = 2)
    {
        Check.Positive(vocabSize, nameof(vocabSize));
        if (modelDim <= 0 || modelDim % 32 != 0) throw new ArgumentException($"{nameof(modelDim)}: expected a positive multiple of 32, got {modelDim}", nameof(modelDim));
        Check.Positive(layers, nameof(layers));
        int d = modelDim / 4;                                                               // head dim D
        var b = new TinyLmConfig { VocabSize = vocabSize, ModelDim = modelDim, Layers = layers, Heads = 4 };
        return
        [
            new("mha", "transformer", b with { KvHeads = 4, AttentionName = "mha" }),
            new("gqa-2", "gqa", b with { KvHeads = 2, AttentionName = "gqa-2" }),
            new("mqa", "mqa", b with { KvHeads = 1, AttentionName = "mqa" }),
            new("mla", "transmla", b with { RotaryDim = d / 2, AttentionName = "mla", Attention = (c, _) => new MultiHeadLatentAttention(c, new MlaOptions { LatentDim = 2 * d - d / 2 }) }),
            new("mla-prerope", "mla-random-matrix", b with { AttentionName = "mla-prerope", Attention = (c, _) => new MultiHeadLatentAttention(c, new MlaOptions { LatentDim = 2 * d, DecoupledRope = false }) }),
            new("tpa", "tpa", b with { AttentionName = "tpa", Attention = (c, _) => new TensorProductAttention(c, new TpaOptions { QueryRank = 4, KeyRank = 1, ValueRank = 1 }) }),
            new("cca", "cca", b with { HeadDim = d / 4, AttentionName = "cca", Attention = (c, _) => new CompressedConvolutionalAttention(c) }),
            new("ccgqa", "cca", b with { HeadDim = d / 2, KvHeads = 2, AttentionName = "ccgqa", Attention = (c, _) => new CompressedConvolutionalAttention(c) }),
            new("sqa", "sqa", b with { AttentionName = "sqa", Attention = (c, _) => new SparseQueryAttention(c, 2, 1) }),
            new("cla2", "cla", b with { KvHeads = 2, AttentionName = "cla2", Attention = (c, i) => new CrossLayerAttention(c, i, 2) }),
        ];
    }

    /// <summary>
    /// Builds the model of <paramref name="spec"/> (seeded), measures its cache on a prefill, trains it on
    /// <paramref name="task"/> with <paramref name="options"/>, and returns the row. FLOPs: a prefill of
    /// <paramref name="prefillTokens"/> tokens, and one decoded token after <paramref name="decodeContext"/>. With
    /// <paramref name="spectrumSteps"/>, the W_Q·W_Kᵀ spectra at those steps (<see cref="TrackSpectra"/>); with
    /// <paramref name="keepModel"/>, the trained model.
    /// </summary>
    public static LayoutRow Measure(LayoutSpec spec, ISyntheticTask task, TrainOptions options, int prefillTokens = 256, int decodeContext = 1024,
        IReadOnlyList<int>? spectrumSteps = null, bool keepModel = false)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(options);
        Check.Positive(prefillTokens, nameof(prefillTokens));
        Check.NonNegative(decodeContext, nameof(decodeContext));
        if (spec.Config.VocabSize < task.VocabSize)
            throw new ArgumentException($"{nameof(spec)}: the model's vocabulary ({spec.Config.VocabSize}) is smaller than the task's ({task.VocabSize})", nameof(spec));
        torch.manual_seed(options.Seed);
        var model = new TinyLm(spec.Config);
        try
        {
            var cost = KvLayoutAccounting.Cost(model);
            double measured = KvLayoutAccounting.MeasuredKvBytesPerToken(model, Math.Min(prefillTokens, 64));
            using var trainer = Trainer.ForTask(model, task, options);
            var spectra = spectrumSteps is null ? null : Spectra(model, trainer, spectrumSteps);
            var result = trainer.Train();
            double accuracy = result.EvalMetric ?? trainer.Objective.Evaluate(model, options.EvalSequences, new torch.Generator((ulong)options.Seed + 7919));
            return new LayoutRow(spec.Name, spec.Paper, cost.Parameters, cost.KvElementsPerToken, measured,
                cost.PrefillFlopsPerToken(prefillTokens), cost.DecodeFlopsPerToken(decodeContext), accuracy, result.FinalLoss)
            { Spectra = spectra, Model = keepModel ? model : null };
        }
        finally
        {
            if (!keepModel) model.Dispose();
        }
    }

    /// <summary>The rows as a table: KV bytes per token at fp16 (formula) and fp32 (measured), FLOPs per token, quality, each cost also relative to the first row.</summary>
    public static DataFrame Table(IReadOnlyList<LayoutRow> rows, string metricName = "accuracy")
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) throw new ArgumentException($"{nameof(rows)}: expected at least one row", nameof(rows));
        var first = rows[0];
        return new DataFrame(
            new StringDataFrameColumn("layout", rows.Select(r => r.Layout)),
            new StringDataFrameColumn("paper", rows.Select(r => r.Paper)),
            new Int64DataFrameColumn("attention params", rows.Select(r => (long?)r.AttentionParameters)),
            new Int64DataFrameColumn("KV bytes/token (fp16)", rows.Select(r => (long?)(r.KvElementsPerToken * 2))),
            new DoubleDataFrameColumn("measured KV bytes/token (fp32)", rows.Select(r => (double?)r.MeasuredKvBytesPerToken)),
            new DoubleDataFrameColumn("KV ÷ first", rows.Select(r => (double?)Math.Round(r.KvElementsPerToken / (double)first.KvElementsPerToken, 3))),
            new DoubleDataFrameColumn("prefill MFLOP/token", rows.Select(r => (double?)Math.Round(r.PrefillFlopsPerToken / 1e6, 3))),
            new DoubleDataFrameColumn("decode MFLOP/token", rows.Select(r => (double?)Math.Round(r.DecodeFlopsPerToken / 1e6, 3))),
            new DoubleDataFrameColumn(metricName, rows.Select(r => (double?)Math.Round(r.Accuracy, 3))),
            new DoubleDataFrameColumn("final loss", rows.Select(r => (double?)Math.Round(r.Loss, 3))));
    }

    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="task"/> and takes <see cref="QueryKeySpectrum.Diagnose"/> of every
    /// layer at each of <paramref name="steps"/> (0 = at initialisation), as Jha and Reagen 2025 do during pretraining.
    /// </summary>
    public static IReadOnlyList<(int Step, SpectrumDiagnostics[] Layers)> TrackSpectra(TinyLm model, ISyntheticTask task, TrainOptions options, IReadOnlyList<int> steps)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var trainer = Trainer.ForTask(model, task, options);
        return Spectra(model, trainer, steps);
    }

    private static List<(int Step, SpectrumDiagnostics[] Layers)> Spectra(TinyLm model, Trainer trainer, IReadOnlyList<int> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        int last = trainer.Options.Steps;
        if (steps.Count == 0 || steps.Zip(steps.Skip(1)).Any(p => p.Second <= p.First) || steps[0] < 0 || steps[^1] > last)
            throw new ArgumentException($"{nameof(steps)}: expected increasing steps from 0 to {last}, got [{string.Join(", ", steps)}]", nameof(steps));
        var list = new List<(int, SpectrumDiagnostics[])>();
        foreach (int s in steps)
        {
            if (s > trainer.Step) trainer.Train(s);
            list.Add((s, model.Layers.Select(l => QueryKeySpectrum.Diagnose(l.Attention)).ToArray()));
        }
        return list;
    }
}
