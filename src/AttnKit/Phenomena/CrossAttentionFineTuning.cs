using AttnKit.Attention;
using AttnKit.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AttnKit.Phenomena;

/// <summary>Which parameters a <see cref="CrossAttentionFineTuning"/> run updates on the new language pair.</summary>
public enum FineTuneScope
{
    /// <summary>Only the new source embeddings.</summary>
    EmbeddingsOnly,
    /// <summary>The new source embeddings and the decoder's cross-attention (the paper's setting).</summary>
    CrossAttention,
    /// <summary>Every parameter.</summary>
    Everything,
}

/// <summary>The outcome of <see cref="CrossAttentionFineTuning.Run"/>.</summary>
/// <param name="ParentAccuracy">Token accuracy of the pretrained model on the parent pair.</param>
/// <param name="Untuned">Token accuracy on the child pair before fine-tuning (new embeddings at random).</param>
/// <param name="Scopes">The fine-tuning scopes, in the order of the next two arrays.</param>
/// <param name="Accuracy">Token accuracy on the child pair after fine-tuning, per scope.</param>
/// <param name="TrainedParameters">How many parameters each scope updates.</param>
/// <param name="TotalParameters">The model's parameter count.</param>
public sealed record CrossAttentionFineTuningResult(double ParentAccuracy, double Untuned, FineTuneScope[] Scopes, double[] Accuracy, long[] TrainedParameters, long TotalParameters);

/// <summary>
/// Fine-tuning only cross-attention. Gheini, Ren and May, "Cross-Attention is All You Need: Adapting Pretrained
/// Transformers for Machine Translation", 2021 (arXiv 2104.08771): when a translation model moves to a new source
/// language, updating only the new embeddings and the decoder's cross-attention comes close to updating every
/// parameter. Here a tiny encoder–decoder learns a synthetic language pair, then moves to a new source language with
/// its own vocabulary and the opposite word order; the three fine-tuning scopes get the same steps.
/// 1. parent pair: source s (n tokens of V symbols) → target π(s) reversed (π a fixed random relabelling);
///    child pair: source σ(s) reversed (a new vocabulary σ, opposite order), same target;
/// 2. model: source embedding + positions → one encoder block (self-attention, MLP, residuals); target embedding +
///    positions → causal self-attention → cross-attention over the encoder → MLP → logits (teacher forcing, BOS first);
/// 3. pretrain everything on the parent pair;
/// 4. replace the source embedding by a fresh one for the child vocabulary; from the pretrained weights, fine-tune
///    each <see cref="FineTuneScope"/> for the same steps;
/// 5. report next-token accuracy with the reference prefix on held-out child data, and each scope's parameter count.
/// Everything runs on the CPU, single-threaded: the model is far too small for a GPU or for threads to pay.
/// </summary>
public static class CrossAttentionFineTuning
{
    /// <summary>The sentence length n of both languages.</summary>
    public const int Length = 6;

    private sealed class Translator : nn.Module
    {
        public readonly Embedding Source, Target;
        public readonly Parameter SourcePositions, TargetPositions;
        public readonly MultiHeadAttention EncoderSelf, DecoderSelf, Cross;
        public readonly Sequential EncoderMlp, DecoderMlp;
        public readonly Linear Out;

        public Translator(int vocab, int tokens, int dim) : base(nameof(Translator))
        {
            Source = nn.Embedding(vocab, dim);
            Target = nn.Embedding(vocab + 1, dim);                      // the last id is BOS
            SourcePositions = new Parameter(torch.randn(tokens, dim) * 0.5);
            TargetPositions = new Parameter(torch.randn(tokens, dim) * 0.5);
            EncoderSelf = new MultiHeadAttention(new MultiHeadAttentionConfig(dim, 2), torch.CPU, ScalarType.Float32);
            DecoderSelf = new MultiHeadAttention(new MultiHeadAttentionConfig(dim, 2), torch.CPU, ScalarType.Float32);
            Cross = new MultiHeadAttention(new MultiHeadAttentionConfig(dim, 2), torch.CPU, ScalarType.Float32);
            EncoderMlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim));
            DecoderMlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim));
            Out = nn.Linear(dim, vocab);
            RegisterComponents();
        }

        // source ids (B, n), decoder input ids (B, n) → logits (B, n, V)
        public Tensor Logits(Tensor src, Tensor decoderIn)
        {
            var h = Source.forward(src) + SourcePositions;                                  // 2. (B, n, d)
            h = h + EncoderSelf.Forward(h).Output;
            h = h + EncoderMlp.forward(h);
            var t = Target.forward(decoderIn) + TargetPositions;                            //    (B, n, d)
            var causal = torch.ones(t.shape[1], t.shape[1], ScalarType.Bool).tril();           //    (n, n), true = allowed
            t = t + DecoderSelf.Forward(t, null, new AttentionOptions { MaskTensor = causal }).Output;
            t = t + Cross.Forward(t, h).Output;
            t = t + DecoderMlp.forward(t);
            return Out.forward(t);                                                          //    (B, n, V)
        }
    }

    /// <summary>Step 1: a batch of (source, decoder input, target) ids, each (B, n), for the parent or the child pair.</summary>
    public static (Tensor Source, Tensor DecoderIn, Tensor Target) Batch(long batch, Tensor pi, Tensor sigma, bool child, Generator? generator = null)
    {
        Check.Positive(batch, nameof(batch));
        Check.Rank(pi, 1, nameof(pi), "(V)");
        Check.Rank(sigma, 1, nameof(sigma), "(V)");
        Check.Dim(sigma, 0, pi.shape[0], nameof(sigma), "V like pi");
        if (pi.dtype != ScalarType.Int64 || sigma.dtype != ScalarType.Int64)
            throw new ArgumentException($"{nameof(pi)}, {nameof(sigma)}: expected Int64 permutations, got {pi.dtype} and {sigma.dtype}", nameof(pi));
        using var scope = torch.NewDisposeScope();
        long v = pi.shape[0];
        var s = torch.randint(v, [batch, Length], generator: generator);                       // 1. (B, n)
        var target = pi[s].flip(1);                                                       //    (B, n)
        var source = child ? sigma[s].flip(1) : s;
        var decoderIn = torch.cat([torch.full([batch, 1], v, ScalarType.Int64), target[.., ..^1]], 1); // BOS first (B, n)
        return (source.MoveToOuterDisposeScope(), decoderIn.MoveToOuterDisposeScope(), target.MoveToOuterDisposeScope());
    }

    /// <summary>Steps 1–5: pretrain for <paramref name="pretrainSteps"/>, then fine-tune each scope for <paramref name="fineTuneSteps"/>.</summary>
    public static CrossAttentionFineTuningResult Run(int vocab = 10, int dim = 32, int pretrainSteps = 250, int fineTuneSteps = 120, int batch = 64, int seed = 0)
    {
        Check.Positive(vocab, nameof(vocab));
        Check.Positive(dim, nameof(dim));
        Check.Positive(pretrainSteps, nameof(pretrainSteps));
        Check.Positive(fineTuneSteps, nameof(fineTuneSteps));
        Check.Positive(batch, nameof(batch));
        if (dim % 2 != 0) throw new ArgumentException($"{nameof(dim)}: expected an even width (two heads), got {dim}", nameof(dim));
        return SingleThreaded.Run(() =>
        {
            using var scope = torch.NewDisposeScope();
            using var gen = new Generator((ulong)seed);
            var pi = torch.randperm(vocab, generator: gen);
            var sigma = torch.randperm(vocab, generator: gen);
            var parentTest = Batch(1024, pi, sigma, child: false, gen);
            var childTest = Batch(1024, pi, sigma, child: true, gen);
            torch.manual_seed(seed);
            var model = new Translator(vocab, Length, dim);
            Train(model, model.parameters(), pi, sigma, child: false, pretrainSteps, batch, gen);   // 3.
            double parentAcc = Accuracy(model, parentTest);
            var pretrained = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone());
            var scopes = Enum.GetValues<FineTuneScope>();
            var acc = new double[scopes.Length];
            var counts = new long[scopes.Length];
            double untuned = 0;
            for (int i = 0; i < scopes.Length; i++)
            {
                model.load_state_dict(pretrained);
                using (torch.no_grad())
                {
                    torch.manual_seed(seed + 1);
                    model.Source.weight!.copy_(torch.randn(vocab, dim));                         // 4. a fresh source vocabulary
                }
                if (i == 0) untuned = Accuracy(model, childTest);
                var trained = scopes[i] switch
                {
                    FineTuneScope.EmbeddingsOnly => model.Source.parameters().ToList(),
                    FineTuneScope.CrossAttention => model.Source.parameters().Concat(model.Cross.parameters()).ToList(),
                    _ => model.parameters().ToList(),
                };
                counts[i] = trained.Sum(p => p.numel());
            var keep = new HashSet<Parameter>(trained);
            foreach (var p in model.parameters()) p.requires_grad = keep.Contains(p);               // frozen: no gradient at all
                Train(model, trained, pi, sigma, child: true, fineTuneSteps, batch, gen);
                acc[i] = Accuracy(model, childTest);                                             // 5.
            }
            long total = model.parameters().Sum(p => p.numel());
            return new CrossAttentionFineTuningResult(parentAcc, untuned, scopes, acc, counts, total);
        });
    }

    private static void Train(Translator model, IEnumerable<Parameter> trained, Tensor pi, Tensor sigma, bool child, int steps, int batch, Generator gen)
    {
        using var opt = torch.optim.Adam(trained, 0.005);
        for (int step = 0; step < steps; step++)
        {
            using var inner = torch.NewDisposeScope();
            var (src, din, tgt) = Batch(batch, pi, sigma, child, gen);
            var logits = model.Logits(src, din);                                             // (B, n, V)
            var loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[2]), tgt.reshape(-1));
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
    }

    private static double Accuracy(Translator model, (Tensor Source, Tensor DecoderIn, Tensor Target) data)
    {
        using var scope = torch.NewDisposeScope();
        using var _ = torch.no_grad();
        var logits = model.Logits(data.Source, data.DecoderIn);
        return logits.argmax(-1).eq(data.Target).to_type(ScalarType.Float32).mean().item<float>();
    }
}
