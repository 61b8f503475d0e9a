using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// Soft (deterministic) and hard (stochastic) attention. Xu et al., "Show, Attend and Tell: Neural Image Caption
/// Generation with Visual Attention", 2015 (arXiv 1502.03044), sections 4.1–4.2: given the attention weights α over
/// the image locations a_i, soft attention takes the expected context Σ_i α_i a_i and trains by backpropagation;
/// hard attention samples one location s ~ Multinoulli(α), takes a_s, and trains the weights with the score-function
/// (REINFORCE) estimator, because a sample has no gradient.
/// 1. soft: ẑ = Σ_i α_i a_i (eq. 13, the expectation of the hard context);
/// 2. hard: s ~ Multinoulli(α), ẑ = a_s (eqs. 8–9);
/// 3. hard's gradient with respect to the attention logits e (α = softmax(e)), from S samples:
///    ĝ = (1/S) Σ_n (r(s_n) − b)·(onehot(s_n) − α), the gradient of log α_{s_n} scaled by the sample's reward minus
///    a baseline b (eq. 11–12; the paper keeps a moving average of the log-likelihood as b and adds an entropy term);
/// 4. the exact gradient of E_s[r(s)] = Σ_i α_i r_i is α ∘ (r − Σ_i α_i r_i): what ĝ estimates without bias.
/// </summary>
public static class HardAttention
{
    /// <summary>Step 1: the soft context, weights (B, H, Nq, Nk) · values (B, H, Nk, Dv) → (B, H, Nq, Dv).</summary>
    public static Tensor Soft(Tensor weights, Tensor values)
    {
        CheckWeightsValues(weights, values);
        return torch.matmul(weights, values);                                           // 1.
    }

    /// <summary>
    /// Step 2, sampling: <paramref name="samples"/> locations per query drawn from the weights (B, H, Nq, Nk), with
    /// replacement, as int64 indices (B, H, Nq, S). Uses <paramref name="generator"/> when given, else the global RNG.
    /// </summary>
    public static Tensor Sample(Tensor weights, long samples, Generator? generator = null)
    {
        Check.Rank(weights, 4, nameof(weights), "(B, H, Nq, Nk)");
        Check.FloatingPoint(weights, nameof(weights));
        Check.Positive(samples, nameof(samples));
        using var scope = torch.NewDisposeScope();
        long[] shape = weights.shape;
        var rows = weights.reshape(-1, shape[3]).to(ScalarType.Float32);               // (B·H·Nq, Nk)
        if (rows.lt(0).any().item<bool>() || !rows.sum(-1).gt(0).all().item<bool>())
            throw new ArgumentException($"{nameof(weights)}: expected non-negative rows with a positive sum, got a row that is negative or all zero", nameof(weights));
        var s = torch.multinomial(rows, samples, replacement: true, generator: generator); // 2. (B·H·Nq, S)
        return s.reshape(shape[0], shape[1], shape[2], samples).MoveToOuterDisposeScope(); // (B, H, Nq, S)
    }

    /// <summary>Step 2, the hard contexts: values (B, H, Nk, Dv) at sampled indices (B, H, Nq, S) → (B, H, Nq, S, Dv).</summary>
    public static Tensor Gather(Tensor values, Tensor indices)
    {
        Check.Rank(values, 4, nameof(values), "(B, H, Nk, Dv)");
        Check.Rank(indices, 4, nameof(indices), "(B, H, Nq, S)");
        if (indices.dtype != ScalarType.Int64) throw new ArgumentException($"{nameof(indices)}: expected int64 indices, got {indices.dtype}", nameof(indices));
        Check.SameDevice(values, nameof(values), indices, nameof(indices));
        Check.Dim(indices, 0, values.shape[0], nameof(indices), "batch B like values");
        Check.Dim(indices, 1, values.shape[1], nameof(indices), "heads H like values");
        long nk = values.shape[2];
        if (indices.numel() > 0 && (indices.min().item<long>() < 0 || indices.max().item<long>() >= nk))
            throw new ArgumentException($"{nameof(indices)}: expected indices in 0..{nk - 1}, got {indices.min().item<long>()}..{indices.max().item<long>()}", nameof(indices));
        using var scope = torch.NewDisposeScope();
        long[] ix = indices.shape;
        var flat = indices.reshape(ix[0], ix[1], ix[2] * ix[3], 1).expand(ix[0], ix[1], ix[2] * ix[3], values.shape[3]); // (B, H, Nq·S, Dv)
        var picked = values.gather(2, flat);                                            // 2. (B, H, Nq·S, Dv)
        return picked.reshape(ix[0], ix[1], ix[2], ix[3], values.shape[3]).MoveToOuterDisposeScope(); // (B, H, Nq, S, Dv)
    }

    /// <summary>
    /// Step 3: the score-function estimate of ∂E[r]/∂logits from sampled indices (…, S) and their rewards (…, S), with
    /// an optional baseline (…) subtracted from every reward. logits (…, Nk) → (…, Nk).
    /// </summary>
    public static Tensor ReinforceGradient(Tensor logits, Tensor indices, Tensor rewards, Tensor? baseline = null)
    {
        Check.NotNull(logits, nameof(logits));
        Check.FloatingPoint(logits, nameof(logits));
        Check.NotNull(indices, nameof(indices));
        Check.NotNull(rewards, nameof(rewards));
        if (indices.dtype != ScalarType.Int64) throw new ArgumentException($"{nameof(indices)}: expected int64 indices, got {indices.dtype}", nameof(indices));
        long[] lead = logits.shape[..^1];
        if (indices.dim() != logits.dim() || !indices.shape[..^1].SequenceEqual(lead))
            throw new ArgumentException($"{nameof(indices)}: expected (…, S) with … = ({string.Join(", ", lead)}) like the logits, got {Check.Shape(indices)}", nameof(indices));
        if (!rewards.shape.SequenceEqual(indices.shape))
            throw new ArgumentException($"{nameof(rewards)}: expected the indices' shape {Check.Shape(indices)}, got {Check.Shape(rewards)}", nameof(rewards));
        if (baseline is not null && !baseline.shape.SequenceEqual(lead))
            throw new ArgumentException($"{nameof(baseline)}: expected shape ({string.Join(", ", lead)}), got {Check.Shape(baseline)}", nameof(baseline));
        using var scope = torch.NewDisposeScope();
        long nk = logits.shape[^1];
        var alpha = logits.to(ScalarType.Float32).softmax(-1);                          // (…, Nk)
        var onehot = nn.functional.one_hot(indices, nk).to(ScalarType.Float32);         // (…, S, Nk)
        var r = rewards.to(ScalarType.Float32);
        if (baseline is not null) r = r - baseline.to(ScalarType.Float32).unsqueeze(-1);
        var g = (r.unsqueeze(-1) * (onehot - alpha.unsqueeze(-2))).mean([-2]);          // 3. (…, Nk)
        return g.MoveToOuterDisposeScope();
    }

    /// <summary>Step 4: the exact ∂E[r]/∂logits = α ∘ (r − Σ α r) for logits (…, Nk) and a reward per location (…, Nk).</summary>
    public static Tensor ExactGradient(Tensor logits, Tensor rewardPerLocation)
    {
        Check.NotNull(logits, nameof(logits));
        Check.NotNull(rewardPerLocation, nameof(rewardPerLocation));
        Check.FloatingPoint(logits, nameof(logits));
        if (!rewardPerLocation.shape.SequenceEqual(logits.shape))
            throw new ArgumentException($"{nameof(rewardPerLocation)}: expected the logits' shape {Check.Shape(logits)}, got {Check.Shape(rewardPerLocation)}", nameof(rewardPerLocation));
        using var scope = torch.NewDisposeScope();
        var alpha = logits.to(ScalarType.Float32).softmax(-1);
        var r = rewardPerLocation.to(ScalarType.Float32);
        return (alpha * (r - (alpha * r).sum(-1, keepdim: true))).MoveToOuterDisposeScope(); // 4.
    }

    private static void CheckWeightsValues(Tensor weights, Tensor values)
    {
        Check.Rank(weights, 4, nameof(weights), "(B, H, Nq, Nk)");
        Check.Rank(values, 4, nameof(values), "(B, H, Nk, Dv)");
        Check.FloatingPoint(weights, nameof(weights));
        Check.SameDType(weights, nameof(weights), values, nameof(values));
        Check.SameDevice(weights, nameof(weights), values, nameof(values));
        Check.Dim(values, 0, weights.shape[0], nameof(values), "batch B like the weights");
        Check.Dim(values, 1, weights.shape[1], nameof(values), "heads H like the weights");
        Check.Dim(values, 2, weights.shape[3], nameof(values), "locations Nk like the weights");
    }
}
