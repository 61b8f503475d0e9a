using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>
/// A pointer network. Vinyals, Fortunato and Jaitly, "Pointer Networks", 2015 (arXiv 1506.03134), section 2.3:
/// instead of mixing the encoder states into a context, the attention weights over the N input positions ARE the
/// output distribution, p(C_i | C_1…C_{i−1}, P) = softmax_j(u_ij), so the output dictionary grows with the input.
/// 1. encode each input element: e_j = tanh(x_j W_e + b_e) (B, N, Hd) (the paper uses an LSTM encoder; sorting, the
///    notebook's task, needs no context, so each element is encoded alone);
/// 2. decoder state of step i from the element it pointed at before: d_i = tanh(x_{C_{i−1}} W_d + b_d), a learned
///    start state for i = 0 (the paper feeds that element to an LSTM decoder);
/// 3. additive scores u_ij = vᵀ tanh(W_1 e_j + W_2 d_i) (<see cref="BahdanauAttention.Scores"/>; eq. 3);
/// 4. optionally forbid the positions already pointed at (u_ij = −∞; a common addition for permutation outputs, not in
///    the paper);
/// 5. log p(C_i = j) = log_softmax_j(u_ij): the pointer distribution; greedy decoding points at its argmax.
/// </summary>
public sealed class PointerNetwork : nn.Module
{
    private readonly Linear encoder, decoder;
    private readonly Parameter start, w1, w2, v;

    /// <summary>Input elements of width <paramref name="inputDim"/>, states of width <paramref name="hidden"/>, scores through a hidden layer of <paramref name="attentionDim"/>.</summary>
    public PointerNetwork(int inputDim, int hidden, int attentionDim, Device? device = null) : base(nameof(PointerNetwork))
    {
        Check.Positive(inputDim, nameof(inputDim));
        Check.Positive(hidden, nameof(hidden));
        Check.Positive(attentionDim, nameof(attentionDim));
        var dev = device ?? Kit.Device;
        InputDim = inputDim;
        encoder = nn.Linear(inputDim, hidden, device: dev);
        decoder = nn.Linear(inputDim, hidden, device: dev);
        start = nn.Parameter(torch.randn(hidden, device: dev) * 0.1);
        w1 = nn.Parameter(torch.randn(hidden, attentionDim, device: dev) / Math.Sqrt(hidden));
        w2 = nn.Parameter(torch.randn(hidden, attentionDim, device: dev) / Math.Sqrt(hidden));
        v = nn.Parameter(torch.randn(attentionDim, device: dev) / Math.Sqrt(attentionDim));
        RegisterComponents();
    }

    /// <summary>Width of an input element.</summary>
    public int InputDim { get; }

    /// <summary>
    /// Steps 1–4 with teacher forcing: x (B, N, Din) and, per decoding step, the index each step pointed at before
    /// (B, T), −1 for "start" → log-probabilities (B, T, N) over the input positions. <paramref name="maskChosen"/>: step 4.
    /// </summary>
    public Tensor LogProbabilities(Tensor x, Tensor previous, bool maskChosen = false)
    {
        CheckInput(x);
        Check.Rank(previous, 2, nameof(previous), "(B, T)");
        if (previous.dtype != ScalarType.Int64) throw new ArgumentException($"{nameof(previous)}: expected int64 indices, got {previous.dtype}", nameof(previous));
        Check.SameDevice(x, nameof(x), previous, nameof(previous));
        Check.Dim(previous, 0, x.shape[0], nameof(previous), "batch B like x");
        long n = x.shape[1];
        if (previous.numel() > 0 && (previous.min().item<long>() < -1 || previous.max().item<long>() >= n))
            throw new ArgumentException($"{nameof(previous)}: expected indices in −1..{n - 1}, got {previous.min().item<long>()}..{previous.max().item<long>()}", nameof(previous));
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], t = previous.shape[1], din = x.shape[2];
        var e = encoder.forward(x).tanh();                                              // 1. (B, N, Hd)
        var idx = previous.clamp_min(0).unsqueeze(-1).expand(b, t, din);                // (B, T, Din)
        var d = decoder.forward(x.gather(1, idx)).tanh();                               // 2. (B, T, Hd)
        d = torch.where(previous.eq(-1).unsqueeze(-1), start.expand_as(d), d);
        var u = BahdanauAttention.Scores(d.unsqueeze(1), e.unsqueeze(1), w2, w1, v);    // 3. (B, 1, T, N)
        var logits = u.squeeze(1);                                                      // (B, T, N)
        if (maskChosen)
        {
            var picked = nn.functional.one_hot(previous.clamp_min(0), n).to(ScalarType.Int32) * previous.ge(0).to(ScalarType.Int32).unsqueeze(-1); // (B, T, N)
            logits = logits.masked_fill(picked.cumsum(1).gt(0), double.NegativeInfinity); // 4. what step i pointed at before, and earlier
        }
        return logits.log_softmax(-1).MoveToOuterDisposeScope();                        // 5. (B, T, N)
    }

    /// <summary>Greedy decoding for <paramref name="steps"/> steps: x (B, N, Din) → the indices pointed at (B, steps). Each step re-runs the teacher-forced pass over the steps so far (plain, O(steps²), fine at notebook sizes).</summary>
    public Tensor Decode(Tensor x, long steps, bool maskChosen = false)
    {
        CheckInput(x);
        Check.Positive(steps, nameof(steps));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        long b = x.shape[0];
        if (maskChosen && steps > x.shape[1])
            throw new ArgumentException($"{nameof(steps)}: with chosen positions masked there are only {x.shape[1]} to point at, got {steps} steps", nameof(steps));
        var previous = torch.full(b, 1, -1L, ScalarType.Int64, x.device);              // (B, 1): start
        var chosen = new List<Tensor>();
        for (long i = 0; i < steps; i++)
        {
            var logp = LogProbabilities(x, previous, maskChosen)[.., ^1..];              // (B, 1, N): the last step
            var next = logp.argmax(-1);                                                 // 5. (B, 1)
            chosen.Add(next);
            previous = torch.cat([previous, next], 1);
        }
        return torch.cat(chosen, 1).MoveToOuterDisposeScope();                          // (B, steps)
    }

    private void CheckInput(Tensor x)
    {
        Check.Rank(x, 3, nameof(x), "(B, N, Din)");
        Check.FloatingPoint(x, nameof(x));
        Check.Dim(x, 2, InputDim, nameof(x), "element width Din");
        var weight = encoder.weight!;
        if (x.device_type != weight.device_type || x.device_index != weight.device_index)
            throw new ArgumentException($"{nameof(x)}: expected a tensor on {weight.device} like the network, got one on {x.device}", nameof(x));
        if (x.dtype != weight.dtype) throw new ArgumentException($"{nameof(x)}: expected dtype {weight.dtype} like the network, got {x.dtype}", nameof(x));
    }
}
