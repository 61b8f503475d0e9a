using AttnKit.Attention.Masks;
using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Blockwise;

/// <summary>How much work a tiled forward pass did.</summary>
/// <param name="Tiles">Query blocks × key blocks.</param>
/// <param name="TilesComputed">Tiles computed; the others lay wholly in the masked future of a causal mask and were skipped.</param>
/// <param name="RowUpdates">Query rows folded into a running softmax, summed over computed tiles.</param>
/// <param name="RowsRescaled">Of those, rows whose accumulator was rescaled (FlashAttention-4's conditional rescaling lowers it).</param>
public sealed record TiledAttentionStats(long Tiles, long TilesComputed, long RowUpdates, long RowsRescaled);

/// <summary>The output of a tiled forward pass: the output (q's dtype), the log-sum-exp the backward pass needs, and the work done.</summary>
public sealed class FlashAttentionResult : IDisposable
{
    /// <summary>(B, Hq, Nq, Dv), q's dtype.</summary>
    public Tensor Output { get; }
    /// <summary>(B, Hq, Nq) float32; −∞ for a query with no allowed key.</summary>
    public Tensor LogSumExp { get; }
    /// <summary>The work done.</summary>
    public TiledAttentionStats Stats { get; }

    internal FlashAttentionResult(Tensor output, Tensor logSumExp, TiledAttentionStats stats) => (Output, LogSumExp, Stats) = (output, logSumExp, stats);

    /// <inheritdoc/>
    public void Dispose()
    {
        Output.Dispose();
        LogSumExp.Dispose();
    }
}

/// <summary>
/// Tiled exact attention. Dao et al., "FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness",
/// 2022 (arXiv 2205.14135), in the form of Dao, "FlashAttention-2", 2023 (arXiv 2307.08691): the forward pass is
/// FlashAttention-2's Algorithm 1 (query blocks outer, the output unnormalized until the end), the backward pass its
/// Algorithm 2 (Δ first, key blocks outer); with the conditional rescaling of Zadouri et al., "FlashAttention-4", 2026
/// (arXiv 2603.05451), whose threshold is <see cref="BlockwiseOptions.FlashAttention4Threshold"/>.
/// The forward pass visits the scores one bq × bk tile at a time with an online softmax and keeps only the output and
/// one log-sum-exp per query; the backward pass recomputes each tile's scores from q, k and that log-sum-exp instead of
/// storing the N × N attention matrix. Memory beyond inputs and outputs is O(bq·bk) per tile, so O(N) in all.
/// Here tiles are TorchSharp calls, so the point is the algorithm and its memory, not a fused kernel's speed; with
/// <see cref="BlockwiseOptions.FusedTiles"/> each tile is one fused kernel call instead (<see cref="FusedTile"/>), and
/// the same loop runs at kernel speed.
/// Forward (<see cref="Forward"/>), for each query block Q_i:
/// 1. start the online softmax (m = −∞, ℓ = 0, acc = 0);
/// 2. for each key block K_j, V_j: skip it if a causal mask hides all of it from Q_i; else S = tile scores
///    (scale, score modifier, mask), and fold S, V_j into the state (<see cref="OnlineSoftmax.Update"/>);
/// 3. O_i = acc / ℓ, L_i = m + log ℓ.
/// Backward (<see cref="Backward"/>), with Δ = rowsum(dO ∘ O) first, for each key block K_j, V_j:
/// 4. for each query block Q_i not hidden from it: recompute S, P = exp(S − L_i);
/// 5. dV_j += Pᵀ·dO_i;
/// 6. dP = dO_i·V_jᵀ, dS = P ∘ (dP − Δ_i) (through the score modifier's derivative, if there is one);
/// 7. dQ_i += dS·K_j·scale, dK_j += dSᵀ·Q_i·scale.
/// </summary>
public static class FlashAttention
{
    /// <summary>The tiled forward pass (steps 1–3).</summary>
    public static FlashAttentionResult Forward(Tensor q, Tensor k, Tensor v, BlockwiseOptions? options = null)
    {
        options ??= BlockwiseOptions.None;
        var (_, offset, scale) = Validate(q, k, v, options);
        using var scope = torch.NewDisposeScope();
        long[] qs = q.shape, ks = k.shape;
        var (b, hq, nq) = (qs[0], qs[1], qs[2]);
        var (nk, dv) = (ks[2], v.shape[3]);
        var dev = q.device;
        if (options.FusedTiles) return FusedForward(q, k, v, options, offset, scale);
        var output = torch.zeros([b, hq, nq, dv], ScalarType.Float32, dev);                 // (B, Hq, Nq, Dv)
        var lse = torch.empty([b, hq, nq], ScalarType.Float32, dev);                        // (B, Hq, Nq)
        long tiles = 0, computed = 0, rows = 0;
        var rescaled = new List<Tensor>();
        for (long i0 = 0; i0 < nq; i0 += options.QueryBlock)
        {
            long bq = Math.Min(options.QueryBlock, nq - i0);
            using var tile = torch.NewDisposeScope();
            var qi = q.narrow(2, i0, bq);                                                   // (B, Hq, bq, D)
            var qPos = AttentionTile.Range(offset + i0, bq, dev);
            var state = OnlineSoftmax.Start(b, hq, bq, dv, dev);                            // 1.
            for (long j0 = 0; j0 < nk; j0 += options.KeyBlock)
            {
                long bk = Math.Min(options.KeyBlock, nk - j0);
                tiles++;
                if (Hidden(options.Mask, offset + i0, bq, j0)) continue;                     // 2. skip a tile wholly in the future
                computed++;
                using var kj = k.narrow(2, j0, bk);                                         // (B, Hkv, bk, D)
                using var vj = v.narrow(2, j0, bk);
                using var kPos = AttentionTile.Range(j0, bk, dev);
                using var s = AttentionTile.ScoresUnchecked(qi, kj, qPos, kPos, options.Mask, options.ScoreMod, scale); // (B, Hq, bq, bk)
                OnlineSoftmax.Update(state, s, vj, options.RescaleThreshold);
            }
            using var part = OnlineSoftmax.Finish(state);                                   // 3.
            output.narrow(2, i0, bq).copy_(part.Output);
            lse.narrow(2, i0, bq).copy_(part.LogSumExp);
            rows += state.RowUpdates;
            rescaled.Add(state.RowsRescaled.MoveToOuterDisposeScope());
            TensorMemory.Sample();
        }
        long rowsRescaled = rescaled.Count == 0 ? 0 : torch.stack(rescaled).sum().item<long>();
        var result = new FlashAttentionResult(output.to(q.dtype).MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope(), new TiledAttentionStats(tiles, computed, rows, rowsRescaled));
        return result;
    }

    /// <summary>
    /// Steps 1–3 with fused tiles (<see cref="BlockwiseOptions.FusedTiles"/>): each query block's tiles are computed by
    /// the fused kernel with their log-sum-exp (<see cref="FusedTile"/>) and merged by log-sum-exp instead of the online
    /// softmax (the same result: the online softmax is that merge done one tile at a time). A run of consecutive tiles
    /// that the mask leaves whole is one kernel call over their keys: inside the kernel, step 2's loop over those key
    /// blocks is the kernel's own (FlashAttention-2's split: the outer loop over query blocks here, the inner loop over
    /// key blocks in the kernel). Tiles the causal diagonal cuts are calls of their own.
    /// </summary>
    private static FlashAttentionResult FusedForward(Tensor q, Tensor k, Tensor v, BlockwiseOptions options, long offset, double scale)
    {
        if (!FusedTile.Supports(options))
            throw new ArgumentException("options.FusedTiles: fused tiles take no mask or a causal one, and no score modifier; use the per-tile form for others", nameof(options));
        long[] qs = q.shape;
        long nq = qs[2], nk = k.shape[2], dv = v.shape[3];
        bool causal = options.Mask is not null && options.Mask.Kind == MaskKind.Causal;
        var output = torch.empty([qs[0], qs[1], nq, dv], q.dtype, q.device);               // (B, Hq, Nq, Dv), in q's dtype: merged in place
        var lse = torch.empty([qs[0], qs[1], nq], ScalarType.Float32, q.device);            // (B, Hq, Nq)
        long tiles = 0, computed = 0;
        for (long i0 = 0; i0 < nq; i0 += options.QueryBlock)
        {
            long bq = Math.Min(options.QueryBlock, nq - i0), q0 = offset + i0;
            using var tile = torch.NewDisposeScope();
            var qi = q.narrow(2, i0, bq);                                                   // (B, Hq, bq, D)
            var (oi, li) = (output.narrow(2, i0, bq), lse.narrow(2, i0, bq));               // this block's accumulators (views)
            bool started = false;
            void Add(PartialAttention? part)                                                // 3. the first part is copied in, later ones merged
            {
                if (part is null) return;
                if (!started) { oi.copy_(part.Output); li.copy_(part.LogSumExp); started = true; }
                else FusedKernels.MergeInto(oi, li, part.Output.dtype == oi.dtype ? part.Output : part.Output.to(oi.dtype), part.LogSumExp);
                part.Dispose();
            }
            long wholeStart = -1, wholeEnd = -1;                                             // a run of whole tiles, one call
            void Flush()
            {
                if (wholeStart < 0) return;
                Add(FusedTile.Partial(qi, k.narrow(2, wholeStart, wholeEnd - wholeStart), v.narrow(2, wholeStart, wholeEnd - wholeStart), q0, wholeStart, options.Mask, scale));
                wholeStart = -1;
            }
            for (long j0 = 0; j0 < nk; j0 += options.KeyBlock)
            {
                long bk = Math.Min(options.KeyBlock, nk - j0);
                tiles++;
                if (Hidden(options.Mask, q0, bq, j0)) continue;                              // 2. a tile wholly in the future
                computed++;
                if (!causal || j0 + bk - 1 <= q0)                                            //    whole: joins the run
                {
                    if (wholeStart < 0) wholeStart = j0;
                    wholeEnd = j0 + bk;
                    continue;
                }
                Flush();
                Add(FusedTile.Partial(qi, k.narrow(2, j0, bk), v.narrow(2, j0, bk), q0, j0, options.Mask, scale)); // cut by the diagonal
            }
            Flush();
            if (!started) { oi.zero_(); li.fill_(double.NegativeInfinity); }                  //    a block that sees no key
        }
        return new FlashAttentionResult(output.MoveToOuterDisposeScope(), lse.MoveToOuterDisposeScope(), new TiledAttentionStats(tiles, computed, 0, 0));
    }

    /// <summary>
    /// The recomputing backward pass (steps 4–7): the gradients of a loss with respect to q, k and v, given the forward
    /// pass's output and log-sum-exp and the loss's gradient with respect to the output. Returns them in q's dtype.
    /// </summary>
    public static (Tensor Dq, Tensor Dk, Tensor Dv) Backward(Tensor q, Tensor k, Tensor v, Tensor output, Tensor logSumExp, Tensor gradOutput, BlockwiseOptions? options = null)
    {
        options ??= BlockwiseOptions.None;
        var (groups, offset, scale) = Validate(q, k, v, options);
        long[] qs = q.shape, ks = k.shape;
        var (b, hq, nq, d) = (qs[0], qs[1], qs[2], qs[3]);
        var (hkv, nk, dv) = (ks[1], ks[2], v.shape[3]);
        Check.NotNull(output, nameof(output));
        Check.NotNull(gradOutput, nameof(gradOutput));
        Check.NotNull(logSumExp, nameof(logSumExp));
        foreach (var (t, name) in new[] { (output, nameof(output)), (gradOutput, nameof(gradOutput)) })
        {
            Check.SameDevice(q, nameof(q), t, name);
            Check.FloatingPoint(t, name);
            Check.Rank(t, 4, name, "(B, Hq, Nq, Dv)");
            if (!t.shape.SequenceEqual([b, hq, nq, dv])) throw new ArgumentException($"{name}: expected shape ({b}, {hq}, {nq}, {dv}), got {Check.Shape(t)}", name);
        }
        Check.SameDevice(q, nameof(q), logSumExp, nameof(logSumExp));
        if (!logSumExp.shape.SequenceEqual([b, hq, nq])) throw new ArgumentException($"{nameof(logSumExp)}: expected shape ({b}, {hq}, {nq}), got {Check.Shape(logSumExp)}", nameof(logSumExp));

        using var scope = torch.NewDisposeScope();
        var dev = q.device;
        var dO = gradOutput.to(ScalarType.Float32);
        var delta = (dO * output.to(ScalarType.Float32)).sum(-1, keepdim: true);          // Δ (B, Hq, Nq, 1)
        var l = logSumExp.unsqueeze(-1);
        var lSafe = torch.where(l.isfinite(), l, torch.zeros_like(l));                     // a row with no key: P = 0
        var dq = torch.zeros([b, hq, nq, d], ScalarType.Float32, dev);
        var dk = torch.zeros([b, hkv, nk, d], ScalarType.Float32, dev);
        var dvOut = torch.zeros([b, hkv, nk, dv], ScalarType.Float32, dev);
        for (long j0 = 0; j0 < nk; j0 += options.KeyBlock)
        {
            long bk = Math.Min(options.KeyBlock, nk - j0);
            using var outer = torch.NewDisposeScope();
            var kj = k.narrow(2, j0, bk).to(ScalarType.Float32);                            // (B, Hkv, bk, D)
            var vj = v.narrow(2, j0, bk).to(ScalarType.Float32);                            // (B, Hkv, bk, Dv)
            var kPos = AttentionTile.Range(j0, bk, dev);
            var dkj = dk.narrow(2, j0, bk);
            var dvj = dvOut.narrow(2, j0, bk);
            for (long i0 = 0; i0 < nq; i0 += options.QueryBlock)
            {
                long bq = Math.Min(options.QueryBlock, nq - i0);
                if (Hidden(options.Mask, offset + i0, bq, j0)) continue;
                using var inner = torch.NewDisposeScope();
                var qi = q.narrow(2, i0, bq).to(ScalarType.Float32);                        // (B, Hq, bq, D)
                var qPos = AttentionTile.Range(offset + i0, bq, dev);
                var dOi = dO.narrow(2, i0, bq);                                             // (B, Hq, bq, Dv)
                var (p, dS) = TileGradient(qi, kj, vj, qPos, kPos, lSafe.narrow(2, i0, bq), delta.narrow(2, i0, bq), dOi, options, scale); // 4., 6.
                var p5 = p.view(b, hkv, groups, bq, bk);                                    // (B, Hkv, G, bq, bk)
                dvj.add_(torch.matmul(p5.transpose(-2, -1), dOi.reshape(b, hkv, groups, bq, dv)).sum(2, keepdim: false));  // 5. (B, Hkv, bk, Dv)
                var dS5 = dS.view(b, hkv, groups, bq, bk);
                dq.narrow(2, i0, bq).add_(torch.matmul(dS5, kj.unsqueeze(2)).view(b, hq, bq, d) * scale);  // 7. (B, Hq, bq, D)
                dkj.add_(torch.matmul(dS5.transpose(-2, -1), qi.reshape(b, hkv, groups, bq, d)).sum(2, keepdim: false) * scale); // (B, Hkv, bk, D)
                TensorMemory.Sample();
            }
        }
        return (dq.to(q.dtype).MoveToOuterDisposeScope(), dk.to(q.dtype).MoveToOuterDisposeScope(), dvOut.to(q.dtype).MoveToOuterDisposeScope());
    }

    /// <summary>Steps 4 and 6 for one tile: P and dS (B, Hq, bq, bk), through the score modifier's derivative by autograd on the tile.</summary>
    private static (Tensor P, Tensor DS) TileGradient(Tensor qi, Tensor kj, Tensor vj, Tensor qPos, Tensor kPos, Tensor lse, Tensor delta, Tensor dOi, BlockwiseOptions options, double scale)
    {
        var raw = AttentionTile.RawScores(qi, kj, scale);                                   // (B, Hq, bq, bk)
        Tensor? leaf = null, modded = null;
        var s = raw;
        if (options.ScoreMod is not null)
        {
            using var grad = torch.enable_grad();
            leaf = raw.detach().requires_grad_(true);
            modded = AttentionTile.Modify(leaf, qPos, kPos, options.ScoreMod);
            s = modded.detach();
        }
        if (options.Mask is not null) s = AttentionTile.MaskScores(s, qPos, kPos, options.Mask);
        var p = (s - lse).exp();                                                            // 4. (B, Hq, bq, bk)
        long[] ps = p.shape;
        var (b, hq, bq, bk) = (ps[0], ps[1], ps[2], ps[3]);
        long hkv = vj.shape[1], dv = vj.shape[3];
        var dP = torch.matmul(dOi.reshape(b, hkv, hq / hkv, bq, dv), vj.unsqueeze(2).transpose(-2, -1)).view(b, hq, bq, bk); // 6. (B, Hq, bq, bk)
        var dS = p * (dP - delta);
        if (leaf is not null)
        {
            using var grad = torch.enable_grad();
            dS = torch.autograd.grad([modded!], [leaf], [dS])[0];                            // through the score modifier
        }
        return (p, dS);
    }

    /// <summary>
    /// Attention with autograd: the tiled forward pass, and <see cref="Backward"/> as its registered backward (a custom
    /// autograd function), so a loss built on it back-propagates without the N × N matrix. Output in q's dtype.
    /// </summary>
    public static Tensor Apply(Tensor q, Tensor k, Tensor v, BlockwiseOptions? options = null)
    {
        options ??= BlockwiseOptions.None;
        Validate(q, k, v, options);
        return FlashAttentionFunction.apply(q, k, v, options);
    }

    private sealed class FlashAttentionFunction : torch.autograd.SingleTensorFunction<FlashAttentionFunction>
    {
        public override string Name => "FlashAttention";

        public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var (q, k, v, options) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (BlockwiseOptions)vars[3]);
            var r = Forward(q, k, v, options);
            ctx.save_for_backward([q, k, v, r.Output, r.LogSumExp]);
            ctx.save_data("options", options);
            return r.Output;
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var saved = ctx.get_saved_variables();
            var options = (BlockwiseOptions)ctx.get_data("options");
            var (dq, dk, dv) = Backward(saved[0], saved[1], saved[2], saved[3], saved[4], gradOutput, options);
            return [dq, dk, dv, null!];
        }
    }

    /// <summary>Whether a causal mask hides every key from j0 on from the queries at absolute positions qStart..qStart+bq−1.</summary>
    internal static bool Hidden(AttentionMask? mask, long qStart, long bq, long j0) =>
        mask is not null && mask.Kind == MaskKind.Causal && j0 > qStart + bq - 1;

    /// <summary>Checks the inputs as the dense reference does, plus the tile sizes; returns G, the query offset and the scale.</summary>
    internal static (long Groups, long Offset, double Scale) Validate(Tensor q, Tensor k, Tensor v, BlockwiseOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var (groups, offset) = ScaledDotProductAttention.Validate(q, k, v, options.ToAttentionOptions());
        return (groups, offset, options.Scale ?? 1.0 / Math.Sqrt(q.shape[3]));
    }
}
