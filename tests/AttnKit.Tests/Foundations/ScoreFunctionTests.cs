using AttnKit.Attention;
using AttnKit.Attention.Foundations;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Foundations;

[Collection("global RNG")]
public class ScoreFunctionTests
{
    static Tensor Vec(params float[] values) => torch.tensor(values, device: T.Dev);

    [Fact]
    public void Bahdanau_matches_a_hand_computed_score()
    {
        var q = Vec(1, 0).view(1, 1, 1, 2);
        var k = Vec(0, 1, 2, 0).view(1, 1, 2, 2);
        var eye = torch.eye(2, device: T.Dev);
        var s = BahdanauAttention.Scores(q, k, eye, eye, Vec(1, 1));
        // key 0: tanh(1) + tanh(1); key 1: tanh(3) + tanh(0)
        Assert.Equal([(float)(2 * Math.Tanh(1)), (float)Math.Tanh(3)], T.Floats(s), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void Luong_dot_is_the_unscaled_dot_product_and_its_attention_is_sdpa_with_the_scale_undone()
    {
        torch.manual_seed(1);
        var (q, k, v) = (T.Randn(2, 3, 4, 8), T.Randn(2, 3, 5, 8), T.Randn(2, 3, 5, 6));
        T.Close(torch.matmul(q, k.transpose(-2, -1)), LuongAttention.DotScores(q, k), 1e-6, "dot");
        using var global = LuongAttention.Global(LuongAttention.DotScores(q, k) / Math.Sqrt(8), v);
        var sdpa = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { QueryOffset = 0 }).Output;
        T.Close(sdpa, global.Output, 1e-5, "global attention with dot/√d = scaled dot-product attention");
    }

    [Fact]
    public void General_with_identity_is_dot_and_concat_is_bahdanau_with_the_split_matrix()
    {
        torch.manual_seed(2);
        var (q, k) = (T.Randn(1, 2, 3, 6), T.Randn(1, 2, 7, 6));
        T.Close(LuongAttention.DotScores(q, k), LuongAttention.GeneralScores(q, k, torch.eye(6, device: T.Dev)), 1e-6, "general(I) = dot");
        var (wa, va) = (T.Randn(12, 5), T.Randn(5));
        T.Close(BahdanauAttention.Scores(q, k, wa[..6], wa[6..], va), LuongAttention.ConcatScores(q, k, wa, va), 1e-6, "concat = additive");
        // concat written out for one pair, with the concatenation built
        var pair = torch.cat([q[0, 1, 2], k[0, 1, 4]]);
        double byHand = torch.matmul(torch.matmul(pair, wa).tanh(), va).item<float>();
        Assert.Equal(byHand, LuongAttention.ConcatScores(q, k, wa, va)[0, 1, 2, 4].item<float>(), 5);
    }

    [Fact]
    public void Attentional_state_is_tanh_of_the_concatenation()
    {
        torch.manual_seed(3);
        var (c, h, wc) = (T.Randn(1, 1, 2, 3), T.Randn(1, 1, 2, 4), T.Randn(7, 5));
        T.Close(torch.matmul(torch.cat([c, h], -1), wc).tanh(), LuongAttention.AttentionalState(c, h, wc), 1e-6);
    }

    [Fact]
    public void Local_p_weights_match_a_hand_computed_window()
    {
        var scores = torch.zeros(1, 1, 1, 5, device: T.Dev);
        var w = LuongLocalAttention.Weights(scores, Vec(2f).view(1, 1, 1), 1, gaussian: true);
        float third = 1f / 3, edge = (float)(Math.Exp(-2) / 3); // σ = D/2 = 0.5: exp(−1/(2·0.25)) = e^−2
        Assert.Equal([0, edge, third, edge, 0], T.Floats(w), new FloatTolerance(1e-6f));
        var m = LuongLocalAttention.Weights(scores, Vec(0f).view(1, 1, 1), 1, gaussian: false);
        Assert.Equal([0.5f, 0.5f, 0, 0, 0], T.Floats(m), new FloatTolerance(1e-6f)); // the window is clipped at the source's start
    }

    [Fact]
    public void A_window_covering_the_source_without_the_gaussian_is_global_attention()
    {
        torch.manual_seed(4);
        var (scores, v) = (T.Randn(2, 1, 3, 6), T.Randn(2, 1, 6, 4));
        using var local = LuongLocalAttention.Attend(scores, v, LuongLocalAttention.MonotonicPositions(3, 6, T.Dev), 6, gaussian: false);
        using var global = LuongAttention.Global(scores, v);
        T.Close(global.Output, local.Output, 1e-6);
        Assert.Equal([0f, 1, 2, 2], T.Floats(LuongLocalAttention.MonotonicPositions(4, 3, T.Dev)));
    }

    [Fact]
    public void Predicted_positions_lie_in_the_source_and_follow_the_formula()
    {
        torch.manual_seed(5);
        var (h, wp, vp) = (T.Randn(1, 1, 4, 3), T.Randn(3, 5), T.Randn(5));
        var p = LuongLocalAttention.PredictedPositions(h, wp, vp, 10);
        T.Close(torch.matmul(torch.matmul(h, wp).tanh(), vp).sigmoid() * 9, p, 1e-6);
        Assert.True(p.ge(0).all().item<bool>() && p.le(9).all().item<bool>());
    }

    [Fact]
    public void Score_functions_do_not_leak()
    {
        torch.manual_seed(6);
        var (q, k, v) = (T.Randn(1, 1, 3, 4), T.Randn(1, 1, 5, 4), T.Randn(1, 1, 5, 2));
        var (wq, wk, a) = (T.Randn(4, 3), T.Randn(4, 3), T.Randn(3));
        T.NoLeak(() => [BahdanauAttention.Scores(q, k, wq, wk, a)]);
        T.NoLeak(() => { var r = BahdanauAttention.Attend(q, k, v, wq, wk, a); return [r.Output, r.Weights]; });
        var (scores, positions) = (LuongAttention.DotScores(q, k), LuongLocalAttention.MonotonicPositions(3, 5, T.Dev));
        T.NoLeak(() => { var r = LuongLocalAttention.Attend(scores, v, positions, 2, true); return [r.Output, r.Weights]; });
        var wa = T.Randn(4, 4);
        T.NoLeak(() => [LuongLocalAttention.MonotonicPositions(3, 5, T.Dev), LuongAttention.GeneralScores(q, k, wa)]);
    }

    public static TheoryData<string, string> BadCalls => new()
    {
        { "bahdanau wk rows", "wk: expected rows Dk = k's last dimension = 4" },
        { "bahdanau v width", "v: expected hidden width A like wq = 3" },
        { "dot widths", "k: expected width D like q" },
        { "general shape", "wa: expected columns Dk = k's width = 4" },
        { "local-p zero width", "halfWidth: local-p's Gaussian has σ = D/2" },
        { "scores rank", "scores: expected a 4-D tensor" },
        { "values length", "values: expected source length S like the scores = 5" },
    };

    [Theory]
    [MemberData(nameof(BadCalls))]
    public void Bad_calls_throw_ArgumentException_naming_what_was_expected(string what, string message)
    {
        var (q, k, v) = (T.Randn(1, 1, 3, 4), T.Randn(1, 1, 5, 4), T.Randn(1, 1, 5, 2));
        Action call = what switch
        {
            "bahdanau wk rows" => () => BahdanauAttention.Scores(q, k, T.Randn(4, 3), T.Randn(5, 3), T.Randn(3)),
            "bahdanau v width" => () => BahdanauAttention.Scores(q, k, T.Randn(4, 3), T.Randn(4, 3), T.Randn(2)),
            "dot widths" => () => LuongAttention.DotScores(q, T.Randn(1, 1, 5, 3)),
            "general shape" => () => LuongAttention.GeneralScores(q, k, T.Randn(4, 3)),
            "local-p zero width" => () => LuongLocalAttention.Weights(T.Randn(1, 1, 3, 5), torch.zeros(1, 1, 3, device: T.Dev), 0, true),
            "scores rank" => () => ScoreAttention.Weights(T.Randn(3, 5)),
            "values length" => () => LuongLocalAttention.Attend(T.Randn(1, 1, 3, 5), T.Randn(1, 1, 4, 2), torch.zeros(1, 1, 3, device: T.Dev), 1, false),
            _ => throw new ArgumentException(what),
        };
        var e = Assert.Throws<ArgumentException>(call);
        Assert.Contains(message, e.Message);
    }
}
