using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// What every score function of this folder shares once its scores are computed: turn scores into weights and mix
/// the values. Bahdanau et al., "Neural Machine Translation by Jointly Learning to Align and Translate", 2014
/// (arXiv 1409.0473), eqs. (5)–(6); Luong et al., 2015 (arXiv 1508.04025), eq. (7).
/// 1. s ← −∞ where the mask forbids (true = allowed);
/// 2. a = softmax(s) over the keys; a row with no allowed key is all zeros (not NaN);
/// 3. context c = a·v.
/// </summary>
public static class ScoreAttention
{
    /// <summary>Weights from scores (B, H, Nq, Nk), steps 1–2, float32.</summary>
    public static Tensor Weights(Tensor scores, Tensor? allowed = null)
    {
        Check.Rank(scores, 4, nameof(scores), "(B, H, Nq, Nk)");
        Check.FloatingPoint(scores, nameof(scores));
        if (allowed is not null)
        {
            Check.Bool(allowed, nameof(allowed));
            Check.SameDevice(scores, nameof(scores), allowed, nameof(allowed));
            Check.BroadcastsTo(allowed, scores.shape, nameof(allowed), "(B, H, Nq, Nk)");
        }
        using var scope = torch.NewDisposeScope();
        var s = scores.to(ScalarType.Float32);
        if (allowed is not null) s = s.masked_fill(allowed.logical_not(), double.NegativeInfinity); // 1.
        var m = s.amax([-1], keepdim: true);                                                        // (B, H, Nq, 1)
        m = torch.where(m.isfinite(), m, torch.zeros_like(m));
        var e = (s - m).exp();
        var z = e.sum(-1, keepdim: true);
        return (e / torch.where(z.gt(0), z, torch.ones_like(z))).MoveToOuterDisposeScope();        // 2.
    }

    /// <summary>Context and weights from scores (B, H, Nq, Nk) and values (B, H, Nk, Dv), steps 1–3.</summary>
    public static AttentionResult Attend(Tensor scores, Tensor values, Tensor? allowed = null)
    {
        Check.Rank(values, 4, nameof(values), "(B, H, Nk, Dv)");
        Check.FloatingPoint(values, nameof(values));
        Check.Rank(scores, 4, nameof(scores), "(B, H, Nq, Nk)");
        Check.SameDevice(scores, nameof(scores), values, nameof(values));
        Check.Dim(values, 2, scores.shape[3], nameof(values), "keys Nk like the scores");
        Check.BroadcastsTo(values.shape[..2], scores.shape[..2], nameof(values), "(B, H) like the scores");
        using var scope = torch.NewDisposeScope();
        var a = Weights(scores, allowed);
        var c = torch.matmul(a, values.to(ScalarType.Float32)).to(values.dtype);                   // 3. (B, H, Nq, Dv)
        return new AttentionResult(c, a).MoveToOuterDisposeScope();
    }
}
