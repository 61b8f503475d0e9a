using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace AttnKit.Models.Checkpoints;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> of a byte-level BPE model (GPT-2's scheme, used by SmolLM2, Qwen2.5,
/// Llama 3 and many others) into a Microsoft.ML.Tokenizers <see cref="BpeTokenizer"/>: the vocabulary, the merges,
/// the added (special) tokens and the pre-tokenizer's split pattern. Radford et al., "Language Models are Unsupervised
/// Multitask Learners", 2019, section 2.2 (byte-level BPE); Sennrich et al., "Neural Machine Translation of Rare Words
/// with Subword Units", 2016 (arXiv 1508.07909) for BPE itself.
/// 1. check the model is BPE over byte-level symbols (a ByteLevel pre-tokenizer or decoder);
/// 2. take the split pattern from a Split pre-tokenizer, or GPT-2's pattern when ByteLevel splits by itself;
/// 3. build the tokenizer from vocab, merges (either "a b" strings or [a, b] pairs) and added tokens.
/// </summary>
public static class HuggingFaceTokenizer
{
    /// <summary>GPT-2's pre-tokenizer pattern (what a ByteLevel pre-tokenizer with use_regex splits by).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Loads <c>tokenizer.json</c> from <paramref name="pathOrFolder"/> (the file or its folder).</summary>
    /// <exception cref="InvalidDataException">Not a tokenizer.json, or a scheme the kit does not read, saying which.</exception>
    public static BpeTokenizer Load(string pathOrFolder)
    {
        ArgumentException.ThrowIfNullOrEmpty(pathOrFolder);
        var path = Directory.Exists(pathOrFolder) ? Path.Combine(pathOrFolder, "tokenizer.json") : pathOrFolder;
        if (!File.Exists(path)) throw new FileNotFoundException($"no tokenizer.json at {path}", path);
        JsonObject root;
        try { root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        var model = root["model"] as JsonObject ?? throw new InvalidDataException($"{path}: missing 'model'");
        var type = model["type"]?.GetValue<string>();
        if (type != "BPE") throw new InvalidDataException($"{path}: model type '{type ?? "(none)"}' is not supported; the kit reads byte-level BPE tokenizers");
        var pre = root["pre_tokenizer"] as JsonObject;
        var steps = pre?["type"]?.GetValue<string>() == "Sequence" ? (pre["pretokenizers"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [] : pre is null ? [] : [pre];
        var byteLevel = steps.FirstOrDefault(s => s["type"]?.GetValue<string>() == "ByteLevel");
        if (byteLevel is null && (root["decoder"] as JsonObject)?["type"]?.GetValue<string>() != "ByteLevel")  // 1.
            throw new InvalidDataException($"{path}: not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer or decoder); SentencePiece-style tokenizers (Metaspace, byte fallback) are not supported");
        if (byteLevel?["add_prefix_space"] is JsonValue aps && aps.TryGetValue<bool>(out var prefix) && prefix)
            throw new InvalidDataException($"{path}: add_prefix_space is not supported");
        string? pattern = null;                                                            // 2.
        foreach (var s in steps.Where(s => s["type"]?.GetValue<string>() == "Split"))
        {
            var p = (s["pattern"] as JsonObject)?["Regex"]?.GetValue<string>() ?? (s["pattern"] as JsonObject)?["String"]?.GetValue<string>();
            if (p is null) throw new InvalidDataException($"{path}: a Split pre-tokenizer without a pattern");
            if (pattern is not null) throw new InvalidDataException($"{path}: more than one Split pre-tokenizer is not supported");
            pattern = p;
        }
        if (pattern is null && byteLevel is not null && !(byteLevel["use_regex"] is JsonValue ur && ur.TryGetValue<bool>(out var useRegex) && !useRegex))
            pattern = Gpt2Pattern;
        pattern ??= Gpt2Pattern;

        var vocab = model["vocab"] as JsonObject ?? throw new InvalidDataException($"{path}: missing model.vocab");
        var merges = (model["merges"] as JsonArray ?? throw new InvalidDataException($"{path}: missing model.merges")).Select((m, i) => m switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonArray { Count: 2 } a => $"{a[0]!.GetValue<string>()} {a[1]!.GetValue<string>()}",
            _ => throw new InvalidDataException($"{path}: merges[{i}] is neither \"a b\" nor [a, b]"),
        }).ToList();
        var special = new Dictionary<string, int>();
        foreach (var t in (root["added_tokens"] as JsonArray)?.OfType<JsonObject>() ?? [])
            special[t["content"]!.GetValue<string>()] = t["id"]!.GetValue<int>();
        Regex regex;
        try { regex = new Regex(pattern, RegexOptions.Compiled); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: the pre-tokenizer pattern is not a .NET regular expression ({e.Message})"); }
        var options = new BpeOptions(vocab.Select(kv => new KeyValuePair<string, int>(kv.Key, kv.Value!.GetValue<int>())))  // 3.
        {
            Merges = merges,
            SpecialTokens = special.Count > 0 ? special : null,
            PreTokenizer = new RegexPreTokenizer(regex, special.Count > 0 ? special : null),
            ByteLevel = true,
        };
        return BpeTokenizer.Create(options);
    }

    /// <summary>
    /// GPT-2's byte-to-symbol table: printable bytes stand for themselves and the others are shifted to code points from
    /// 256 up, so that every byte sequence is a string of visible symbols (what byte-level vocabularies are written in).
    /// </summary>
    public static IReadOnlyList<char> ByteSymbols()
    {
        var symbols = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
            symbols[b] = (b >= '!' && b <= '~') || (b >= '¡' && b <= '¬') || (b >= '®' && b <= 'ÿ') ? (char)b : (char)next++;
        return symbols;
    }

    /// <summary>Writes a byte-level symbol string for UTF-8 text (how a byte-level vocabulary spells it).</summary>
    public static string ToByteSymbols(string text)
    {
        var table = ByteSymbols();
        return new string(Encoding.UTF8.GetBytes(text).Select(b => table[b]).ToArray());
    }
}
