using AttnKit.Attention;
using AttnKit.Attention.Masks;
using AttnKit.Attention.ScoreMods;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Attention;

/// <summary>Every bad call throws ArgumentException naming what was expected and what came; none reaches libtorch.</summary>
public class BadCallTests
{
    static Tensor R(params long[] s) => T.Randn(s);

    public static TheoryData<string, string, string> Cases => new()
    {
        // name, fragment the message must contain, a second fragment
        { "q rank 3", "q: expected a 4-D tensor", "(2, 4, 8)" },
        { "k rank 5", "k: expected a 4-D tensor", "(B, Hkv, Nk, D)" },
        { "v rank 2", "v: expected a 4-D tensor", "(8, 8)" },
        { "heads not a multiple", "query heads must be a multiple", "3 key/value heads" },
        { "head dim mismatch", "head dim D like q = 8", "got 6" },
        { "k/v heads differ", "key/value heads Hkv like k = 2", "got 1" },
        { "k/v tokens differ", "tokens Nk like k = 5", "got 4" },
        { "batch mismatch", "batch B like q = 2", "got 3" },
        { "dtype mismatch", "expected dtype Float32", "Float64" },
        { "integer q", "floating-point", "Int64" },
        { "zero tokens", "at least 1", "(2, 4, 0, 8)" },
        { "mask tensor not bool", "boolean", "Float32" },
        { "mask tensor wrong shape", "options.MaskTensor", "(3, 3)" },
        { "bias wrong shape", "options.Bias", "(2, 4, 5, 6)" },
        { "negative scale", "options.Scale", "-1" },
        { "more queries than keys", "more queries (6) than keys (5)", "QueryOffset" },
        { "negative query offset", "QueryOffset", "-2" },
        { "negative window", "window: expected a positive number", "-1" },
        { "zero dilation", "dilation: expected a positive number", "0" },
        { "negative sinks", "sinks: expected zero or more", "-3" },
        { "negative prefix", "prefixLength: expected zero or more", "-1" },
        { "document ids wrong rank", "documentIds: expected a 2-D tensor", "(10)" },
        { "document ids too short", "documentIds: covers 3 positions", "position 4" },
        { "mask function not bool", "must return a boolean tensor", "Float32" },
        { "score mod wrong heads", "alibi: has 3 slopes", "4 heads" },
        { "softcap zero", "cap: expected a finite positive number", "0" },
        { "mha heads do not divide", "query heads must be a multiple", "3 key/value heads" },
        { "mha model dim", "not divisible by the 3 query heads", "HeadDim" },
        { "mha input width", "d_model = 16", "got 12" },
        { "mha input rank", "x: expected a 3-D tensor", "(B, N, d_model)" },
        { "mha context width", "ContextDim = 16", "got 5" },
        { "disposed tensor", "disposed", "q" },
        { "fused with weights", "fused path cannot", "Reference" },
    };

    static void Call(string name)
    {
        var q = R(2, 4, 5, 8);
        var k = R(2, 2, 5, 8);
        var v = R(2, 2, 5, 8);
        switch (name)
        {
            case "q rank 3": ScaledDotProductAttention.Reference(R(2, 4, 8), k, v); break;
            case "k rank 5": ScaledDotProductAttention.Fused(q, R(1, 2, 2, 5, 8), v); break;
            case "v rank 2": ScaledDotProductAttention.Fused(q, k, R(8, 8)); break;
            case "heads not a multiple": ScaledDotProductAttention.Fused(q, R(2, 3, 5, 8), R(2, 3, 5, 8)); break;
            case "head dim mismatch": ScaledDotProductAttention.Fused(q, R(2, 2, 5, 6), v); break;
            case "k/v heads differ": ScaledDotProductAttention.Fused(q, k, R(2, 1, 5, 8)); break;
            case "k/v tokens differ": ScaledDotProductAttention.Fused(q, k, R(2, 2, 4, 8)); break;
            case "batch mismatch": ScaledDotProductAttention.Fused(q, R(3, 2, 5, 8), R(3, 2, 5, 8)); break;
            case "dtype mismatch": ScaledDotProductAttention.Fused(q, k.to(ScalarType.Float64), v); break;
            case "integer q": ScaledDotProductAttention.Reference(torch.ones(2, 4, 5, 8, ScalarType.Int64, T.Dev), k, v); break;
            case "zero tokens": ScaledDotProductAttention.Fused(R(2, 4, 0, 8), k, v); break;
            case "mask tensor not bool": ScaledDotProductAttention.Fused(q, k, v, new() { MaskTensor = R(5, 5) }); break;
            case "mask tensor wrong shape": ScaledDotProductAttention.Fused(q, k, v, new() { MaskTensor = torch.ones(3, 3, ScalarType.Bool, T.Dev) }); break;
            case "bias wrong shape": ScaledDotProductAttention.Reference(q, k, v, new() { Bias = R(2, 4, 5, 6) }); break;
            case "negative scale": ScaledDotProductAttention.Fused(q, k, v, new() { Scale = -1 }); break;
            case "more queries than keys": ScaledDotProductAttention.Fused(R(2, 4, 6, 8), k, v); break;
            case "negative query offset": ScaledDotProductAttention.Fused(q, k, v, new() { QueryOffset = -2 }); break;
            case "negative window": Masks.SlidingWindow(-1); break;
            case "zero dilation": Masks.DilatedWindow(2, 0); break;
            case "negative sinks": Masks.SinksAndWindow(-3, 4); break;
            case "negative prefix": Masks.PrefixLM(-1); break;
            case "document ids wrong rank": Masks.Document(torch.zeros(10, ScalarType.Int64, T.Dev)); break;
            case "document ids too short": ScaledDotProductAttention.Fused(q, k, v, new() { Mask = Masks.Document(torch.zeros(2, 3, ScalarType.Int64, T.Dev)) }); break;
            case "mask function not bool": new AttentionMask("bad", (b, h, qi, ki) => qi.to(ScalarType.Float32)).Materialize(1, 1, 2, 2, T.Dev); break;
            case "score mod wrong heads": ScaledDotProductAttention.Reference(q, k, v, new() { ScoreMod = Alibi.Modifier(3) }); break;
            case "softcap zero": SoftCap.Modifier(0); break;
            case "mha heads do not divide": _ = new MultiHeadAttention(new(24, 4, 3), T.Dev); break;
            case "mha model dim": _ = new MultiHeadAttention(new(16, 3), T.Dev); break;
            case "mha input width": { using var m = new MultiHeadAttention(new(16, 4), T.Dev); m.Forward(R(2, 3, 12)); break; }
            case "mha input rank": { using var m = new MultiHeadAttention(new(16, 4), T.Dev); m.Forward(R(3, 16)); break; }
            case "mha context width": { using var m = new MultiHeadAttention(new(16, 4, ContextDim: 16), T.Dev); m.Forward(R(2, 3, 16), R(2, 3, 5)); break; }
            case "disposed tensor": { var d = R(2, 4, 5, 8); d.Dispose(); ScaledDotProductAttention.Fused(d, k, v); break; }
            case "fused with weights": ScaledDotProductAttention.Fused(q, k, v, new() { ReturnWeights = true }); break;
            default: throw new InvalidOperationException(name);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_calls_throw_ArgumentException_naming_the_problem(string name, string fragment, string detail)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => Call(name));
        Assert.Contains(fragment, e.Message);
        Assert.Contains(detail, e.Message);
    }

    [Fact]
    public void Tensors_on_different_devices_are_refused()
    {
        if (!torch.cuda.is_available()) Assert.Skip("needs a CUDA device to put one tensor elsewhere");
        var q = torch.randn(1, 1, 2, 4, device: torch.CUDA);
        var k = torch.randn(1, 1, 2, 4, device: torch.CPU);
        var e = Assert.Throws<ArgumentException>(() => ScaledDotProductAttention.Fused(q, k, k.cuda()));
        Assert.Contains("expected a tensor on cuda", e.Message);
    }

    [Fact]
    public void At_least_twenty_distinct_bad_calls_are_covered() => Assert.True(Cases.Count >= 20);
}
