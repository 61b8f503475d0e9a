using AttnKit.Core;

namespace AttnKit.Cache;

/// <summary>
/// How many tokens an evicting cache keeps per (batch row, KV head), which tokens it always keeps, and when it compresses.
/// The kept set is the always-kept tokens (the first <see cref="Sinks"/> positions, the last <see cref="Window"/>
/// positions, and with <see cref="ProtectPrompt"/> the prompt while decoding) plus the best-scored others, up to
/// <see cref="Tokens"/> in all.
/// </summary>
public sealed record CacheBudget
{
    /// <summary>Tokens kept per (row, KV head), always-kept ones included (with <see cref="ProtectPrompt"/>: besides the prompt).</summary>
    public required int Tokens { get; init; }
    /// <summary>First positions always kept (attention sinks).</summary>
    public int Sinks { get; init; }
    /// <summary>Most recent positions always kept.</summary>
    public int Window { get; init; }
    /// <summary>While decoding, compress once the cache holds <see cref="Tokens"/> + Interval tokens: 1 keeps the budget exact at every step; larger values evict in bursts (lagged eviction).</summary>
    public int Interval { get; init; } = 1;
    /// <summary>Compress at prefill (after the prompt's forward pass, which itself reads every prompt token).</summary>
    public bool Prefill { get; init; } = true;
    /// <summary>Compress while decoding.</summary>
    public bool Decoding { get; init; } = true;
    /// <summary>The budget at prefill when it differs from the decoding one (the prefill/decode split); null: <see cref="Tokens"/>.</summary>
    public int? PrefillTokens { get; init; }
    /// <summary>While decoding, keep every prompt token still held and spend <see cref="Tokens"/> on the generated ones only.</summary>
    public bool ProtectPrompt { get; init; }
    /// <summary>Per-KV-head budgets (length Hkv) in place of <see cref="Tokens"/> (heads that retrieve can get more).</summary>
    public IReadOnlyList<int>? HeadTokens { get; init; }

    /// <summary>Checks every field; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        Check.Positive(Tokens, nameof(Tokens));
        Check.NonNegative(Sinks, nameof(Sinks));
        Check.NonNegative(Window, nameof(Window));
        Check.Positive(Interval, nameof(Interval));
        if (Sinks + Window > Tokens)
            throw new ArgumentException($"{nameof(Tokens)}: the budget {Tokens} must hold the {Sinks} sinks and the {Window}-token window", nameof(Tokens));
        if (PrefillTokens is int p && p < Sinks + Window)
            throw new ArgumentException($"{nameof(PrefillTokens)}: expected at least the {Sinks + Window} always-kept tokens, got {p}", nameof(PrefillTokens));
        if (HeadTokens is { } h && h.Any(t => t < Sinks + Window || t <= 0))
            throw new ArgumentException($"{nameof(HeadTokens)}: every head's budget must be positive and hold the sinks and the window; got [{string.Join(", ", h)}]", nameof(HeadTokens));
    }

    /// <summary>A budget that keeps <paramref name="fraction"/> of <paramref name="length"/> tokens (at least the sinks and the window, and 1).</summary>
    public static CacheBudget Fraction(double fraction, long length, int sinks = 0, int window = 0)
    {
        if (!(fraction > 0 && fraction <= 1)) throw new ArgumentException($"{nameof(fraction)}: expected a fraction in (0, 1], got {fraction}", nameof(fraction));
        Check.Positive(length, nameof(length));
        int tokens = Math.Max(Math.Max(1, sinks + window), (int)Math.Round(fraction * length));
        return new CacheBudget { Tokens = tokens, Sinks = sinks, Window = window };
    }
}
