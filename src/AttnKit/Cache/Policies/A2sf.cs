using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// A2SF: Jo and Shin, "A2SF: Accumulative Attention Scoring with Forgetting Factor for Token Pruning in Transformer
/// Decoder", 2024 (arXiv 2407.20485), section 3. H2O's accumulated attention favours old tokens, which have been
/// queried more often; a forgetting factor λ discounts old attention so that old and new tokens compete fairly.
/// 1. for each new query t in order: acc ← λ·acc + (attention of query t), i.e. a chunk of n queries adds
///    Σ_t λ^(n−1−t)·a_t to λ^n·acc;
/// 2. score = acc.
/// </summary>
public sealed class A2sf : TokenScorer
{
    /// <summary>A2SF with forgetting factor <paramref name="forgetting"/> in (0, 1]; 1 is H2O.</summary>
    public A2sf(double forgetting = 0.9)
    {
        if (!(forgetting > 0 && forgetting <= 1)) throw new ArgumentException($"{nameof(forgetting)}: expected λ in (0, 1], got {forgetting}", nameof(forgetting));
        Forgetting = forgetting;
    }

    /// <summary>λ.</summary>
    public double Forgetting { get; }

    /// <inheritdoc/>
    public override string Name => "A2SF";

    /// <inheritdoc/>
    public override void Observe(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        long n = context.NewTokens;
        var decay = torch.pow(Forgetting, torch.arange(n - 1, -1, -1, ScalarType.Float32, context.Keys.device)); // (n): λ^(n−1−t)
        var added = (context.KvWeights * decay.view(1, 1, n, 1)).sum(2);                                         // (B, Hkv, L)
        context.SetState("acc", context.State("acc") * Math.Pow(Forgetting, n) + added);                           // 1.
    }

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context) => context.State("acc").alias();                          // 2.
}
