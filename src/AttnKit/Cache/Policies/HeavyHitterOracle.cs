using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Policies;

/// <summary>
/// H2O, the heavy-hitter oracle: Zhang et al., "H2O: Heavy-Hitter Oracle for Efficient Generative Inference of Large
/// Language Models", 2023 (arXiv 2306.14048), section 3–4 (algorithm 1). A few tokens gather most of the attention; the
/// attention a token has received so far predicts that it will keep receiving it.
/// 1. at every update, add to each held token the attention the new queries give it (summed over queries, averaged
///    over the query heads of its KV head);
/// 2. score = the accumulated attention; the keep rule adds the recent window (H2O keeps heavy hitters plus recent tokens).
/// H2O splits its budget half and half between the heavy hitters and the recent tokens (its experiments: 10 % heavy
/// hitters and 10 % recent for a 20 % budget; the authors' Llama recipe: half the window each): <see cref="Budget"/>.
/// </summary>
public sealed class HeavyHitterOracle : TokenScorer
{
    /// <inheritdoc/>
    public override string Name => "H2O";

    /// <summary>H2O's budget of <paramref name="tokens"/>: the recent ⌊tokens/2⌋ always kept, the rest heavy hitters, at every step.</summary>
    public static CacheBudget Budget(int tokens) => new() { Tokens = tokens, Window = tokens / 2 };

    /// <inheritdoc/>
    public override void Observe(PolicyContext context)
    {
        using var scope = torch.NewDisposeScope();
        context.SetState("acc", context.State("acc") + context.KvWeights.sum(2));            // 1. (B, Hkv, L)
    }

    /// <inheritdoc/>
    public override Tensor Score(PolicyContext context) => context.State("acc").alias();      // 2.
}
