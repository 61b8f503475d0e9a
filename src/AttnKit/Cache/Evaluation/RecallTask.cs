using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Cache.Evaluation;

/// <summary>A batch of a cache task: the context is prefilled, then the rest is decoded one token at a time.</summary>
/// <param name="Tokens">(B, N) int64.</param>
/// <param name="Answers">(B, N) bool: true where the next token is an answer that must be recalled (the target is <c>Tokens[:, i + 1]</c>).</param>
/// <param name="ContextLength">Tokens prefilled (compressed at prefill); the rest is decoded with teacher forcing.</param>
public sealed record CacheTaskBatch(Tensor Tokens, Tensor Answers, long ContextLength);

/// <summary>A task that measures what a cache keeps: a context, then queries whose answers are in it.</summary>
public interface ICacheTask
{
    /// <summary>A short name.</summary>
    string Name { get; }
    /// <summary>Vocabulary size the task needs.</summary>
    int VocabSize { get; }
    /// <summary>A batch of <paramref name="batch"/> sequences drawn with <paramref name="generator"/> on <paramref name="device"/>.</summary>
    CacheTaskBatch Sample(int batch, Generator generator, Device device);
}

/// <summary>
/// Associative recall for cache evaluation, in two shapes. Multi-query associative recall (MQAR; Arora et al.,
/// "Zoology: Measuring and Improving Recall in Efficient Language Models", 2023, arXiv 2312.04927): a context of
/// key-value pairs, then keys again, each to be followed by its value. Passkey retrieval (Mohtashami and Jaggi,
/// "Landmark Attention", 2023, arXiv 2305.16300): one key-value pair hidden in filler, then its key.
/// Tokens: keys 0 … K − 1, values K … K + V − 1, filler K + V.
/// 1. draw distinct keys and random values; place the pairs (among <see cref="Filler"/> filler tokens at random slots);
/// 2. append <see cref="Queries"/> queried pairs (key, value) drawn from the context's pairs;
/// 3. the answers are the values after the queried keys.
/// </summary>
public sealed class RecallTask : ICacheTask
{
    /// <summary>A task of <paramref name="pairs"/> pairs among <paramref name="filler"/> filler tokens, then <paramref name="queries"/> queries.</summary>
    public RecallTask(int pairs, int queries, int filler = 0, int keys = 16, int values = 16)
    {
        Check.Positive(pairs, nameof(pairs));
        Check.Positive(queries, nameof(queries));
        Check.NonNegative(filler, nameof(filler));
        Check.Positive(values, nameof(values));
        if (keys < pairs) throw new ArgumentException($"{nameof(keys)}: {pairs} distinct keys need at least {pairs} key tokens, got {keys}", nameof(keys));
        (Pairs, Queries, Filler, Keys, Values) = (pairs, queries, filler, keys, values);
    }

    /// <summary>MQAR: <paramref name="pairs"/> pairs, <paramref name="queries"/> queries, no filler.</summary>
    public static RecallTask Mqar(int pairs, int queries) => new(pairs, queries);

    /// <summary>Passkey: one pair hidden in <paramref name="filler"/> filler tokens, one query.</summary>
    public static RecallTask Passkey(int filler) => new(1, 1, filler);

    /// <summary>Pairs in the context.</summary>
    public int Pairs { get; }
    /// <summary>Queries after it.</summary>
    public int Queries { get; }
    /// <summary>Filler tokens in the context.</summary>
    public int Filler { get; }
    /// <summary>Key tokens K.</summary>
    public int Keys { get; }
    /// <summary>Value tokens V.</summary>
    public int Values { get; }

    /// <inheritdoc/>
    public string Name => Filler > 0 && Pairs == 1 ? $"passkey({Filler})" : $"mqar({Pairs}x{Queries})";

    /// <inheritdoc/>
    public int VocabSize => Keys + Values + 1;

    /// <summary>Context length: 2·pairs + filler.</summary>
    public int ContextLength => 2 * Pairs + Filler;

    /// <inheritdoc/>
    public CacheTaskBatch Sample(int batch, Generator generator, Device device)
    {
        Check.Positive(batch, nameof(batch));
        using var scope = torch.NewDisposeScope();
        int ctx = ContextLength, n = ctx + 2 * Queries;
        var keys = torch.rand([batch, Keys], generator: generator).argsort(1).narrow(1, 0, Pairs);                 // 1. distinct keys (B, P)
        var values = torch.randint(Keys, Keys + Values, [batch, Pairs], generator: generator);                    //    (B, P)
        var slots = torch.rand([batch, Pairs + Filler], generator: generator).argsort(1);                          //    pair i goes to the slot ranked i
        var pairAt = torch.full([batch, Pairs + Filler], -1L).scatter(1, slots.narrow(1, 0, Pairs), torch.arange(Pairs).expand(batch, Pairs));
        var isPair = pairAt.ge(0);
        var safe = pairAt.clamp_min(0);
        var slotKey = torch.where(isPair, keys.gather(1, safe), torch.full_like(safe, Keys + Values));            // (B, P + F)
        var slotValue = torch.where(isPair, values.gather(1, safe), torch.full_like(safe, Keys + Values));
        // a pair occupies two tokens, a filler slot one: expand pair slots to (key, value) and drop the filler's second token
        var two = torch.stack([slotKey, slotValue], 2).view(batch, -1);                                            // (B, 2(P + F))
        var keepSecond = torch.stack([torch.ones_like(isPair), isPair], 2).view(batch, -1);
        var context = two.masked_select(keepSecond).view(batch, ctx);                                              // (B, ctx)
        var pick = torch.randint(0, Pairs, [batch, Queries], generator: generator);                               // 2.
        var queries = torch.stack([keys.gather(1, pick), values.gather(1, pick)], 2).view(batch, 2 * Queries);
        var tokens = torch.cat([context, queries], 1);
        var answers = torch.zeros([batch, n], ScalarType.Bool);
        for (int q = 0; q < Queries; q++) answers[TensorIndex.Colon, ctx + 2 * q] = true;                          // 3. after the key, the value
        return new CacheTaskBatch(tokens.to(device).MoveToOuterDisposeScope(), answers.to(device).MoveToOuterDisposeScope(), ctx);
    }
}

/// <summary>Several tasks trained together: each batch comes from one of them, drawn uniformly.</summary>
public sealed class CacheTaskMixture : ICacheTask
{
    private readonly ICacheTask[] tasks;

    /// <summary>A mixture of <paramref name="tasks"/> (at least one).</summary>
    public CacheTaskMixture(params ICacheTask[] tasks)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        if (tasks.Length == 0) throw new ArgumentException($"{nameof(tasks)}: expected at least one task", nameof(tasks));
        this.tasks = tasks;
    }

    /// <inheritdoc/>
    public string Name => string.Join("+", tasks.Select(t => t.Name));

    /// <inheritdoc/>
    public int VocabSize => tasks.Max(t => t.VocabSize);

    /// <inheritdoc/>
    public CacheTaskBatch Sample(int batch, Generator generator, Device device)
    {
        int pick;
        using (var draw = torch.randint(0, tasks.Length, [1], generator: generator)) pick = (int)draw.item<long>();
        return tasks[pick].Sample(batch, generator, device);
    }
}
