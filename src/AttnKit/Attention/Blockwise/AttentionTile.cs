using AttnKit.Attention.Masks;
using AttnKit.Attention.ScoreMods;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Blockwise;

/// <summary>
/// One tile of attention: a block of queries against a block of keys, at given absolute positions. Every blockwise
/// form (memory-efficient, tiled, ring, tree) is built from these two operations, so masks, score modifiers and
/// grouped-query heads behave the same in all of them:
/// 1. s = q·kᵀ·scale, each query head reading its key/value head h / G (a 5-D view, no copy of k);
/// 2. s ← scoreMod(s) at the tile's positions;
/// 3. s ← −∞ where the mask, evaluated at the tile's positions, forbids;
/// 4. (<see cref="Partial"/>) softmax within the tile: m = max s, p = exp(s − m), ℓ = m + log Σ p, o = p·v / Σ p.
/// </summary>
public static class AttentionTile
{
    /// <summary>
    /// Scores of a tile (steps 1–3): q (B, Hq, bq, D), k (B, Hkv, bk, D), positions int64 (bq) and (bk)
    /// → (B, Hq, bq, bk) float32, −∞ where forbidden.
    /// </summary>
    public static Tensor Scores(Tensor q, Tensor k, Tensor queryPositions, Tensor keyPositions, AttentionMask? mask, ScoreModifier? scoreMod, double scale)
    {
        CheckTile(q, k, null, queryPositions, keyPositions);
        Check.PositiveFinite(scale, nameof(scale));
        return ScoresUnchecked(q, k, queryPositions, keyPositions, mask, scoreMod, scale);
    }

    /// <summary>Attention of the query block over the key block alone (steps 1–4), with its log-sum-exp for merging.</summary>
    public static PartialAttention Partial(Tensor q, Tensor k, Tensor v, Tensor queryPositions, Tensor keyPositions, AttentionMask? mask, ScoreModifier? scoreMod, double scale)
    {
        CheckTile(q, k, v, queryPositions, keyPositions);
        Check.PositiveFinite(scale, nameof(scale));
        return PartialUnchecked(q, k, v, queryPositions, keyPositions, mask, scoreMod, scale);
    }

    internal static Tensor ScoresUnchecked(Tensor q, Tensor k, Tensor qPos, Tensor kPos, AttentionMask? mask, ScoreModifier? scoreMod, double scale)
    {
        using var scope = torch.NewDisposeScope();
        var s = RawScores(q, k, scale);                                                  // 1. (B, Hq, bq, bk)
        if (scoreMod is not null) s = Modify(s, qPos, kPos, scoreMod);                  // 2.
        if (mask is not null) s = MaskScores(s, qPos, kPos, mask);                       // 3.
        return s.MoveToOuterDisposeScope();
    }

    /// <summary>Step 1: q·kᵀ·scale in float32, q (B, Hq, bq, D) and k (B, Hkv, bk, D) → (B, Hq, bq, bk).</summary>
    internal static Tensor RawScores(Tensor q, Tensor k, double scale)
    {
        using var scope = torch.NewDisposeScope();
        long[] qs = q.shape, ks = k.shape;
        var (b, hq, bq, d) = (qs[0], qs[1], qs[2], qs[3]);
        var (hkv, bk) = (ks[1], ks[2]);
        var q5 = q.to(ScalarType.Float32).reshape(b, hkv, hq / hkv, bq, d);              // (B, Hkv, G, bq, D)
        var k5 = k.to(ScalarType.Float32).unsqueeze(2);                                   // (B, Hkv, 1, bk, D)
        return (torch.matmul(q5, k5.transpose(-2, -1)).view(b, hq, bq, bk) * scale).MoveToOuterDisposeScope(); // (B, Hq, bq, bk)
    }

    /// <summary>Step 2: the score modifier at the tile's absolute positions.</summary>
    internal static Tensor Modify(Tensor s, Tensor qPos, Tensor kPos, ScoreModifier scoreMod)
    {
        using var scope = torch.NewDisposeScope();
        long[] ss = s.shape;
        var (bi, hi, qi, ki) = Indices(ss[0], ss[1], qPos, kPos);
        var r = scoreMod.Function(s, bi, hi, qi, ki);
        if (r is null || !torch.is_floating_point(r)) throw new ArgumentException($"score modifier '{scoreMod.Name}': expected a floating-point tensor, got {(r is null ? "null" : r.dtype.ToString())}");
        Check.BroadcastsTo(r, ss, $"score modifier '{scoreMod.Name}'", "(B, H, bq, bk)");
        return r.expand(ss).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>Step 3: −∞ where the mask, at the tile's absolute positions, forbids.</summary>
    internal static Tensor MaskScores(Tensor s, Tensor qPos, Tensor kPos, AttentionMask mask)
    {
        if (mask.Kind == MaskKind.Full) return s.alias();
        using var scope = torch.NewDisposeScope();
        long[] ss = s.shape;
        var (bi, hi, qi, ki) = Indices(ss[0], ss[1], qPos, kPos);
        var allowed = mask.Function(bi, hi, qi, ki);                                      // broadcasts to (B, Hq, bq, bk)
        if (allowed is null || allowed.dtype != ScalarType.Bool) throw new ArgumentException($"mask '{mask.Name}': the mask function must return a boolean tensor, got {(allowed is null ? "null" : allowed.dtype.ToString())}");
        Check.BroadcastsTo(allowed, ss, $"mask '{mask.Name}'", "(B, H, bq, bk)");
        return s.masked_fill(allowed.logical_not(), double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    internal static PartialAttention PartialUnchecked(Tensor q, Tensor k, Tensor v, Tensor qPos, Tensor kPos, AttentionMask? mask, ScoreModifier? scoreMod, double scale)
    {
        using var scope = torch.NewDisposeScope();
        var s = ScoresUnchecked(q, k, qPos, kPos, mask, scoreMod, scale);              // (B, Hq, bq, bk)
        var m = s.amax([-1], keepdim: true);                                             // 4. (B, Hq, bq, 1)
        m = torch.where(m.isfinite(), m, torch.zeros_like(m));
        var p = (s - m).exp();
        var z = p.sum(-1, keepdim: true);
        var o = GroupedMatmul(p, v) / torch.where(z.gt(0), z, torch.ones_like(z));      // (B, Hq, bq, Dv)
        var lse = (m + z.log()).squeeze(-1);                                             // (B, Hq, bq)
        TensorMemory.Sample();
        return new PartialAttention(o, lse).MoveToOuterDisposeScope();
    }

    /// <summary>p (B, Hq, bq, bk) times v (B, Hkv, bk, Dv), query head h reading value head h / G → (B, Hq, bq, Dv) float32.</summary>
    internal static Tensor GroupedMatmul(Tensor p, Tensor v)
    {
        long[] ps = p.shape, vs = v.shape;
        var (b, hq, bq, bk) = (ps[0], ps[1], ps[2], ps[3]);
        var (hkv, dv) = (vs[1], vs[3]);
        var p5 = p.view(b, hkv, hq / hkv, bq, bk);                                       // (B, Hkv, G, bq, bk)
        return torch.matmul(p5, v.to(ScalarType.Float32).unsqueeze(2)).view(b, hq, bq, dv); // (B, Hq, bq, Dv)
    }

    /// <summary>The broadcast index tensors masks and score modifiers take: (B,1,1,1), (1,H,1,1), (1,1,bq,1), (1,1,1,bk).</summary>
    internal static (Tensor B, Tensor H, Tensor Q, Tensor K) Indices(long batch, long heads, Tensor qPos, Tensor kPos)
    {
        var dev = qPos.device;
        return (torch.arange(batch, ScalarType.Int64, dev).view(batch, 1, 1, 1),
                torch.arange(heads, ScalarType.Int64, dev).view(1, heads, 1, 1),
                qPos.view(1, 1, -1, 1),
                kPos.view(1, 1, 1, -1));
    }

    /// <summary>Positions start, start+1, … as an int64 tensor.</summary>
    internal static Tensor Range(long start, long count, Device device) => torch.arange(start, start + count, 1, ScalarType.Int64, device);

    private static void CheckTile(Tensor q, Tensor k, Tensor? v, Tensor qPos, Tensor kPos)
    {
        Check.Rank(q, 4, nameof(q), "(B, Hq, bq, D)");
        Check.Rank(k, 4, nameof(k), "(B, Hkv, bk, D)");
        Check.FloatingPoint(q, nameof(q));
        Check.SameDType(q, nameof(q), k, nameof(k));
        Check.SameDevice(q, nameof(q), k, nameof(k));
        long[] qs = q.shape, ks = k.shape;
        Check.Dim(ks, 0, qs[0], nameof(k), "batch B like q");
        Check.Dim(ks, 3, qs[3], nameof(k), "head dim D like q");
        if (ks[1] == 0 || qs[1] % ks[1] != 0) throw new ArgumentException($"{nameof(k)}: the {qs[1]} query heads must be a multiple of the {ks[1]} key/value heads", nameof(k));
        if (v is not null)
        {
            Check.Rank(v, 4, nameof(v), "(B, Hkv, bk, Dv)");
            Check.SameDType(q, nameof(q), v, nameof(v));
            Check.SameDevice(q, nameof(q), v, nameof(v));
            long[] vs = v.shape;
            Check.Dim(vs, 0, qs[0], nameof(v), "batch B like q");
            Check.Dim(vs, 1, ks[1], nameof(v), "key/value heads like k");
            Check.Dim(vs, 2, ks[2], nameof(v), "tokens like k");
        }
        foreach (var (t, name, n) in new[] { (qPos, "queryPositions", qs[2]), (kPos, "keyPositions", ks[2]) })
        {
            Check.Rank(t, 1, name, "(tokens)");
            if (t.dtype != ScalarType.Int64) throw new ArgumentException($"{name}: expected int64 positions, got {t.dtype}", name);
            Check.SameDevice(q, nameof(q), t, name);
            Check.Dim(t, 0, n, name, "one position per token");
        }
    }
}
