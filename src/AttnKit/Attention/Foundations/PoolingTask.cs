using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Attention.Foundations;

/// <summary>Test accuracy of each pooling head on the <see cref="PoolingTask"/>, and one example's weights per attention head.</summary>
/// <param name="Methods">The heads, in order.</param>
/// <param name="Accuracy">Test accuracy per head (chance is 1 / classes).</param>
/// <param name="MarkerPosition">Where the marked token sits in the example.</param>
/// <param name="ExampleWeights">Per head, its weights over the example's N tokens (mean over heads and queries); null for mean pooling.</param>
public sealed record PoolingTaskResult(string[] Methods, double[] Accuracy, long MarkerPosition, float[]?[] ExampleWeights);

/// <summary>
/// A synthetic task on which pooling matters: a sequence of N tokens, each a random class vector plus noise; one token,
/// at a random position, also carries a marker direction, and the label is the class of that marked token. Mean pooling
/// averages the marked token with N − 1 distractors; a learned query can find the marker and read its class. Each head
/// is trained with a linear classifier on top, for the same number of steps.
/// </summary>
public static class PoolingTask
{
    /// <summary>The heads compared.</summary>
    public static readonly string[] Methods = ["mean pooling", "PMA (C2LLM)", "class attention (PatchConvNet)", "efficient probing", "LAMA"];

    /// <summary>A batch: tokens (B, N, D), labels (B), marker positions (B).</summary>
    public static (Tensor Tokens, Tensor Labels, Tensor Positions) Batch(long batch, int tokens, Tensor classVectors, Tensor marker, Generator? generator = null)
    {
        Check.Positive(batch, nameof(batch));
        Check.Positive(tokens, nameof(tokens));
        Check.Rank(classVectors, 2, nameof(classVectors), "(classes, D)");
        Check.Rank(marker, 1, nameof(marker), "(D)");
        using var scope = torch.NewDisposeScope();
        long k = classVectors.shape[0], d = classVectors.shape[1];
        var dev = classVectors.device;
        var cls = torch.randint(0, k, [batch, tokens], generator: generator).to(dev);    // (B, N) a class per token
        var x = classVectors[cls] + 0.5 * torch.randn([batch, tokens, d], generator: generator).to(dev); // (B, N, D)
        var pos = torch.randint(0, tokens, [batch], generator: generator).to(dev);      // (B)
        var isMarked = nn.functional.one_hot(pos, tokens).to(x.dtype).unsqueeze(-1);    // (B, N, 1)
        x = x + isMarked * marker;
        var labels = cls.gather(1, pos.unsqueeze(1)).squeeze(1);                        // (B)
        return (x.MoveToOuterDisposeScope(), labels.MoveToOuterDisposeScope(), pos.MoveToOuterDisposeScope());
    }

    /// <summary>Trains every head of <see cref="Methods"/> for <paramref name="steps"/> steps and tests it.</summary>
    public static PoolingTaskResult Run(int tokens = 16, int width = 16, int classes = 4, int steps = 300, int batch = 64, int seed = 0, Device? device = null)
    {
        Check.Positive(tokens, nameof(tokens));
        Check.Positive(width, nameof(width));
        Check.Positive(classes, nameof(classes));
        Check.Positive(steps, nameof(steps));
        if (width % 4 != 0) throw new ArgumentException($"{nameof(width)}: expected a multiple of 4 (efficient probing uses 4 queries), got {width}", nameof(width));
        var dev = device ?? Kit.Device;
        using var outer = torch.NewDisposeScope();
        torch.manual_seed(seed);
        var classVectors = torch.randn(classes, width, device: dev);
        var marker = torch.randn(width, device: dev);
        marker = 3 * marker / marker.norm();
        var accuracy = new double[Methods.Length];
        var weights = new float[]?[Methods.Length];
        using var testGen = new Generator((ulong)seed + 7);
        var (testX, testY, testPos) = Batch(256, tokens, classVectors, marker, testGen);
        for (int m = 0; m < Methods.Length; m++)
        {
            torch.manual_seed(seed + m);
            nn.Module head = m switch
            {
                1 => new AttentionPooling(width, 1, 1, null, dev),
                2 => new ClassAttentionPooling(width, 1, dev),
                3 => new EfficientProbing(width, 4, dev),
                4 => new LowRankFactorizedAttention(width, 8, 2, dev),
                _ => nn.Identity(),
            };
            long features = m == 4 ? 2 * width : width;
            var classifier = nn.Linear(features, classes, device: dev);
            Tensor Pool(Tensor x, out Tensor? w)
            {
                switch (head)
                {
                    case AttentionPooling p: { var r = p.Forward(x); w = r.Weights; return r.Pooled.squeeze(1); }
                    case ClassAttentionPooling p: { var r = p.Forward(x); w = r.Weights[.., .., .., 1..]; return r.Pooled; }
                    case EfficientProbing p: { var r = p.Forward(x); w = r.Weights; return r.Pooled; }
                    case LowRankFactorizedAttention p: { var r = p.Forward(x); w = r.Weights; return r.Pooled.flatten(1); }
                    default: w = null; return x.mean([1]);
                }
            }
            var parameters = head.parameters().Concat(classifier.parameters()).ToList();
            using var opt = torch.optim.Adam(parameters, 1e-2);
            using var gen = new Generator((ulong)(seed * 100 + m));
            for (int step = 0; step < steps; step++)
            {
                using var scope = torch.NewDisposeScope();
                var (x, y, _) = Batch(batch, tokens, classVectors, marker, gen);
                var loss = nn.functional.cross_entropy(classifier.forward(Pool(x, out _)), y);
                opt.zero_grad();
                loss.backward();
                opt.step();
            }
            using (var scope = torch.NewDisposeScope())
            using (torch.no_grad())
            {
                var logits = classifier.forward(Pool(testX, out var w));
                accuracy[m] = logits.argmax(-1).eq(testY).to(ScalarType.Float32).mean().item<float>();
                if (w is not null) weights[m] = w[0].reshape(-1, tokens).mean([0]).cpu().data<float>().ToArray(); // mean over heads and queries
            }
            head.Dispose();
            classifier.Dispose();
        }
        return new PoolingTaskResult(Methods, accuracy, testPos[0].item<long>(), weights);
    }
}
