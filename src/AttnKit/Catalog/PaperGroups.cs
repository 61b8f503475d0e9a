namespace AttnKit.Catalog;

/// <summary>
/// The implementation groups of the catalog (the project's GROUPS.md): F1–F18 attention families, K1–K8 cache
/// strategies, P1–P2 phenomena of heads and layers. One group is one area of the library and one notebook (or two).
/// </summary>
public static class PaperGroups
{
    private static readonly (string Code, string Name)[] All =
    [
        ("F1", "Foundations: score functions, cross-attention, one attention layer"),
        ("F2", "What is cached: KV layouts and KV bytes per token"),
        ("F3", "Sharing and routing across heads and layers"),
        ("F4", "Masks and structured patterns"),
        ("F5", "Dynamic sparse attention over exact tokens"),
        ("F6", "Attending to representatives: pooled, clustered, quantized"),
        ("F7", "Softmax-free and attention-like mixers"),
        ("F8", "Recurrent and test-time memories, state-space hybrids"),
        ("F9", "Normalizers and score shaping"),
        ("F10", "Blockwise exact attention"),
        ("F11", "Sequence- and context-parallel attention"),
        ("F12", "Neighborhood and block-structured sparse patterns"),
        ("F13", "Linear attention and hybrids"),
        ("F14", "Attention sinks, dilution and position effects"),
        ("F15", "Position encodings and length generalization"),
        ("F16", "Expressivity beyond one low-rank dot product"),
        ("F17", "Retrieval attention over blocks and memories"),
        ("F18", "Speculative and parallel decoding"),
        ("K1", "Head-aware KV budgets and policies"),
        ("K2", "Input-token pruning and merging"),
        ("K3", "Reuse and refresh of cached attention"),
        ("K4", "Offload and retrieve: a second memory tier"),
        ("K5", "KV quantization"),
        ("K6", "Learned rewriting of KV entries"),
        ("K7", "Token scoring for eviction"),
        ("K8", "Token lifetimes in long generation"),
        ("P1", "Redundancy and pruning of heads and layers"),
        ("P2", "Interpretability: attention flow, probing, explanations"),
    ];

    private static readonly Dictionary<string, (int Order, string Name)> ByCode =
        All.Select((g, i) => (g.Code, (i, g.Name))).ToDictionary(g => g.Code, g => g.Item2, StringComparer.Ordinal);

    /// <summary>Every group code, in order: F1 … F18, K1 … K8, P1, P2.</summary>
    public static IReadOnlyList<string> Codes { get; } = All.Select(g => g.Code).ToArray();

    /// <summary>Whether <paramref name="code"/> is a group (case-sensitive: "F2").</summary>
    public static bool IsKnown(string code) => ByCode.ContainsKey(code);

    /// <summary>The group's name in a few words.</summary>
    /// <exception cref="ArgumentException">Not a group code.</exception>
    public static string Name(string code) =>
        ByCode.TryGetValue(code, out var g) ? g.Name : throw new ArgumentException($"{nameof(code)}: expected a group F1–F18, K1–K8 or P1–P2, got '{code}'", nameof(code));

    /// <summary>The position of the group in <see cref="Codes"/> (for sorting); unknown codes sort last.</summary>
    public static int Order(string code) => ByCode.TryGetValue(code, out var g) ? g.Order : int.MaxValue;
}
