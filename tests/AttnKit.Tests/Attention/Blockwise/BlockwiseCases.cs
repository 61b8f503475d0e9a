using AttnKit.Attention;
using AttnKit.Attention.Blockwise;
using AttnKit.Attention.Masks;
using AttnKit.Attention.ScoreMods;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Attention.Blockwise;

/// <summary>Inputs drawn from a local generator (no global RNG) and the option cases every blockwise form is tested on.</summary>
internal static class BlockwiseCases
{
    public static Tensor Rand(int seed, params long[] shape)
    {
        using var g = new Generator((ulong)seed);
        return torch.randn(shape, ScalarType.Float32, torch.CPU, generator: g).to(T.Dev);
    }

    public static (Tensor q, Tensor k, Tensor v) Qkv(int seed, long b, long hq, long hkv, long nq, long nk, long d, long dv, double qScale = 1) =>
        (Rand(seed, b, hq, nq, d) * qScale, Rand(seed + 1, b, hkv, nk, d), Rand(seed + 2, b, hkv, nk, dv));

    public static TheoryData<string> Names => new() { "none", "causal", "causal-gqa", "window", "prefix", "softcap", "scale", "offset", "document", "sharp" };

    /// <summary>(q, k, v, options) for a named case; tile sizes that do not divide N.</summary>
    public static (Tensor q, Tensor k, Tensor v, BlockwiseOptions o) Case(string name)
    {
        var blocks = new BlockwiseOptions { QueryBlock = 5, KeyBlock = 7 };
        switch (name)
        {
            case "none": { var (q, k, v) = Qkv(1, 2, 2, 2, 19, 23, 8, 6); return (q, k, v, blocks); }
            case "causal": { var (q, k, v) = Qkv(2, 1, 3, 3, 21, 21, 8, 8); return (q, k, v, blocks with { Mask = Masks.Causal }); }
            case "causal-gqa": { var (q, k, v) = Qkv(3, 2, 4, 2, 17, 17, 8, 5); return (q, k, v, blocks with { Mask = Masks.Causal }); }
            case "window": { var (q, k, v) = Qkv(4, 1, 2, 1, 20, 20, 4, 4); return (q, k, v, blocks with { Mask = Masks.SlidingWindow(3) }); }
            case "prefix": { var (q, k, v) = Qkv(5, 1, 2, 2, 16, 16, 8, 8); return (q, k, v, blocks with { Mask = Masks.PrefixLM(6) }); }
            case "softcap": { var (q, k, v) = Qkv(6, 1, 2, 2, 18, 18, 8, 8, qScale: 4); return (q, k, v, blocks with { Mask = Masks.Causal, ScoreMod = SoftCap.Modifier(5) }); }
            case "scale": { var (q, k, v) = Qkv(7, 2, 2, 1, 9, 30, 8, 8); return (q, k, v, blocks with { Scale = 0.3 }); }
            case "offset": { var (q, k, v) = Qkv(8, 1, 2, 2, 6, 25, 8, 8); return (q, k, v, blocks with { Mask = Masks.Causal }); }   // 6 new queries after 19 cached keys
            case "document":
            {
                var (q, k, v) = Qkv(9, 2, 2, 2, 16, 16, 8, 8);
                var ids = torch.tensor(new long[] { 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1 }, device: T.Dev).view(2, 16);
                return (q, k, v, blocks with { Mask = Masks.Document(ids) & Masks.Causal });
            }
            case "sharp": { var (q, k, v) = Qkv(10, 1, 2, 2, 24, 24, 8, 8, qScale: 30); return (q, k, v, blocks with { Mask = Masks.Causal, QueryBlock = 4, KeyBlock = 3 }); }
            default: throw new ArgumentException(name);
        }
    }

    public static AttentionResult Reference(Tensor q, Tensor k, Tensor v, BlockwiseOptions o) =>
        ScaledDotProductAttention.Reference(q, k, v, o.ToAttentionOptions() with { ReturnLogSumExp = true });
}
