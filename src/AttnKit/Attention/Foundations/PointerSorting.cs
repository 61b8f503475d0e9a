using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>What training a pointer network to sort gave: the loss per step and, per test length, the share of
/// positions and of whole sequences it sorted right by greedy decoding.</summary>
/// <param name="Losses">Training loss (mean negative log-likelihood of the right pointer) per step.</param>
/// <param name="TestLengths">The input lengths tested.</param>
/// <param name="PositionAccuracy">Per test length, the share of output positions that point at the right element.</param>
/// <param name="SequenceAccuracy">Per test length, the share of inputs sorted entirely right.</param>
/// <param name="Example">One test input of the training length (N), its pointer distributions (N, N) and the decoded order.</param>
public sealed record PointerSortingResult(double[] Losses, long[] TestLengths, double[] PositionAccuracy, double[] SequenceAccuracy,
    (float[] Input, float[,] Pointers, long[] Order) Example);

/// <summary>
/// The pointer-network task of Vinyals et al., 2015 (arXiv 1506.03134), section 4, at toy scale: sort N numbers drawn
/// uniformly from [0, 1). The target at step i points at the i-th smallest input; training uses teacher forcing, the
/// test greedy decoding, also at lengths never trained on (the output dictionary is the input). By default the
/// positions already pointed at are masked (<see cref="PointerNetwork.LogProbabilities"/>, step 4).
/// </summary>
public static class PointerSorting
{
    /// <summary>Trains a <see cref="PointerNetwork"/> on length <paramref name="trainLength"/>, then tests on <paramref name="testLengths"/>.</summary>
    public static PointerSortingResult Run(int trainLength = 8, long[]? testLengths = null, int steps = 400, int batch = 128, int hidden = 32, bool maskChosen = true, int testBatch = 256, int seed = 0, Device? device = null)
    {
        Check.Positive(trainLength, nameof(trainLength));
        Check.Positive(steps, nameof(steps));
        Check.Positive(batch, nameof(batch));
        Check.Positive(testBatch, nameof(testBatch));
        testLengths ??= [trainLength, 2L * trainLength];
        foreach (var n in testLengths) Check.Positive(n, nameof(testLengths));
        var dev = device ?? Kit.Device;
        torch.manual_seed(seed);
        using var net = new PointerNetwork(1, hidden, hidden, dev);
        using var opt = torch.optim.Adam(net.parameters(), 3e-3);
        var losses = new double[steps];
        for (int step = 0; step < steps; step++)
        {
            using var scope = torch.NewDisposeScope();
            var (x, order) = Batch(batch, trainLength, dev);
            var previous = torch.cat([torch.full(batch, 1, -1L, ScalarType.Int64, dev), order[.., ..^1]], 1); // (B, N): teacher forcing
            var logp = net.LogProbabilities(x, previous, maskChosen);                       // (B, N, N)
            var loss = nn.functional.nll_loss(logp.reshape(-1, trainLength), order.reshape(-1));
            opt.zero_grad();
            loss.backward();
            opt.step();
            losses[step] = loss.item<float>();
        }
        var pos = new double[testLengths.Length];
        var seq = new double[testLengths.Length];
        for (int i = 0; i < testLengths.Length; i++)
        {
            using var scope = torch.NewDisposeScope();
            var (x, order) = Batch(testBatch, testLengths[i], dev);
            var decoded = net.Decode(x, testLengths[i], maskChosen);
            var right = decoded.eq(order);
            pos[i] = right.to(ScalarType.Float32).mean().item<float>();
            seq[i] = right.all(1).to(ScalarType.Float32).mean().item<float>();
        }
        (float[], float[,], long[]) example;
        using (var scope = torch.NewDisposeScope())
        using (torch.no_grad())
        {
            var (x, _) = Batch(1, trainLength, dev);
            var decoded = net.Decode(x, trainLength, maskChosen);
            var previous = torch.cat([torch.full(1, 1, -1L, ScalarType.Int64, dev), decoded[.., ..^1]], 1);
            var p = net.LogProbabilities(x, previous, maskChosen).exp()[0].cpu();                        // (N, N)
            var flat = p.data<float>().ToArray();
            var grid = new float[trainLength, trainLength];
            for (int r = 0; r < trainLength; r++) for (int c = 0; c < trainLength; c++) grid[r, c] = flat[r * trainLength + c];
            example = (x.cpu().data<float>().ToArray(), grid, decoded[0].cpu().data<long>().ToArray());
        }
        return new PointerSortingResult(losses, testLengths, pos, seq, example);
    }

    /// <summary>A batch of inputs (B, N, 1) uniform in [0, 1) and the sorting order (B, N): the index of the i-th smallest.</summary>
    public static (Tensor X, Tensor Order) Batch(long batch, long length, Device? device = null)
    {
        Check.Positive(batch, nameof(batch));
        Check.Positive(length, nameof(length));
        using var scope = torch.NewDisposeScope();
        var x = torch.rand(batch, length, 1, device: device ?? Kit.Device);
        var order = x.squeeze(-1).argsort(-1);
        return (x.MoveToOuterDisposeScope(), order.MoveToOuterDisposeScope());
    }
}
