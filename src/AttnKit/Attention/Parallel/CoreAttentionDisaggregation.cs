using AttnKit.Core;

namespace AttnKit.Attention.Parallel;

/// <summary>Work and traffic of one placement of core attention: per rank (or attention server), in (query, key) pairs.</summary>
/// <param name="Name">"colocated" or "disaggregated".</param>
/// <param name="AttentionPairs">Causal attention pairs per rank: the quadratic work.</param>
/// <param name="Tokens">Tokens per rank: what the linear layers (and their activation memory) scale with.</param>
/// <param name="TokensMoved">Query, key and value token-rows sent to attention servers (0 when colocated).</param>
public sealed record AttentionPlacement(string Name, long[] AttentionPairs, long[] Tokens, long TokensMoved)
{
    /// <summary>Busiest rank's attention over the mean: 1 is perfect balance; a step waits for the busiest rank.</summary>
    public double Imbalance => AttentionPairs.Average() == 0 ? 1 : AttentionPairs.Max() / AttentionPairs.Average();
}

/// <summary>
/// A small simulation of core attention disaggregation. Zhuang et al., "Efficient Long-context Language Model Training
/// by Core Attention Disaggregation", 2025 (arXiv 2510.18121), §3–4. Packed training batches give every rank the same
/// number of tokens, but a document of length L costs L(L+1)/2 causal attention pairs, so a rank that drew one long
/// document does far more attention than one with many short ones: the linear layers are balanced, attention is not,
/// and every step waits for the busiest rank. Core attention, softmax(QKᵀ)V, has no weights and composes over
/// token-level pieces, so DistCA splits it into tasks (a chunk of a document's queries with that document's earlier
/// keys) and schedules the tasks on attention servers to equalize pairs, paying with the traffic of sending them.
/// 1. draw document lengths (a long-tailed mix), pack them in order into R ranks of equal token budget (a document may
///    be cut at a rank boundary: each piece attends within itself and, in this model, to its document's earlier
///    tokens on the same rank only);
/// 2. colocated: each rank's attention pairs are the sum over its pieces of the causal pairs they compute;
/// 3. disaggregated: cut every piece into query chunks of c tokens; a chunk at offset o in its piece is a task of
///    c·o + c(c+1)/2 pairs that needs its c query rows and o + c key/value rows;
/// 4. assign tasks, largest first: to the task's home rank while that stays within 2% of the mean load, else to the
///    least-loaded of R attention servers (a greedy, communication-aware balance); a task placed away from its home
///    rank moves its query and key/value rows.
/// </summary>
public static class CoreAttentionDisaggregation
{
    /// <summary>Document lengths from a seeded long-tailed mix: mostly short documents, a few as long as <paramref name="maxLength"/>.</summary>
    public static long[] DocumentLengths(int count, long maxLength, int seed)
    {
        Check.Positive(count, nameof(count));
        Check.Positive(maxLength, nameof(maxLength));
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Math.Max(1L, (long)(maxLength * Math.Pow(random.NextDouble(), 4)))).ToArray(); // 1.
    }

    /// <summary>Packs the documents into <paramref name="ranks"/> equal token budgets and places attention both ways (steps 1–4).</summary>
    public static (AttentionPlacement Colocated, AttentionPlacement Disaggregated) Simulate(IReadOnlyList<long> documentLengths, int ranks, long chunk)
    {
        ArgumentNullException.ThrowIfNull(documentLengths);
        if (documentLengths.Count == 0 || documentLengths.Any(l => l <= 0)) throw new ArgumentException($"{nameof(documentLengths)}: expected at least one positive length", nameof(documentLengths));
        Check.Positive(ranks, nameof(ranks));
        Check.Positive(chunk, nameof(chunk));
        long total = documentLengths.Sum();
        long budget = (total + ranks - 1) / ranks;
        var pieces = new List<(int Rank, long Length)>();                                   // 1. pack in order, cutting at rank boundaries
        int rank = 0; long room = budget;
        foreach (var length in documentLengths)
        {
            long left = length;
            while (left > 0)
            {
                if (room == 0) { rank = Math.Min(rank + 1, ranks - 1); room = rank == ranks - 1 ? long.MaxValue : budget; }
                long take = Math.Min(left, room);
                pieces.Add((rank, take));
                left -= take; room -= take;
            }
        }
        var tokens = new long[ranks];
        var colocated = new long[ranks];
        foreach (var (r, l) in pieces) { tokens[r] += l; colocated[r] += l * (l + 1) / 2; } // 2.

        var tasks = new List<(int Home, long Pairs, long Rows)>();                          // 3.
        foreach (var (r, l) in pieces)
            for (long o = 0; o < l; o += chunk)
            {
                long c = Math.Min(chunk, l - o);
                tasks.Add((r, c * o + c * (c + 1) / 2, c + (o + c)));
            }
        var servers = new long[ranks];
        long moved = 0;
        double target = tasks.Sum(t => (double)t.Pairs) / ranks * 1.02;
        foreach (var task in tasks.OrderByDescending(t => t.Pairs))                         // 4.
        {
            int best = task.Home;
            if (servers[best] + task.Pairs > target)
                for (int s = 0; s < ranks; s++) if (servers[s] < servers[best]) best = s;
            servers[best] += task.Pairs;
            if (best != task.Home) moved += task.Rows;
        }
        return (new AttentionPlacement("colocated", colocated, tokens, 0), new AttentionPlacement("disaggregated", servers, tokens, moved));
    }
}
