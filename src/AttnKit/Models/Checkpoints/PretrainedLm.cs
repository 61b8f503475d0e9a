using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Models.Checkpoints;

/// <summary>
/// A checkpoint folder loaded whole: the model (<see cref="HuggingFaceCheckpoint.Load"/>), its tokenizer
/// (<see cref="HuggingFaceTokenizer.Load"/>) and its end-of-sequence ids (config.json's or generation_config.json's
/// eos_token_id), ready to complete text.
/// </summary>
public sealed class PretrainedLm : IDisposable
{
    /// <summary>The model.</summary>
    public required TinyLm Model { get; init; }
    /// <summary>The tokenizer.</summary>
    public required Tokenizer Tokenizer { get; init; }
    /// <summary>The ids that end a generation.</summary>
    public required IReadOnlyList<long> EndOfSequence { get; init; }

    /// <summary>Loads model, tokenizer and stop ids from <paramref name="folder"/>.</summary>
    public static PretrainedLm Load(string folder, Device? device = null, ScalarType? dtype = null)
    {
        var tokenizer = HuggingFaceTokenizer.Load(folder);
        var eos = new List<long>();
        foreach (var file in new[] { "generation_config.json", "config.json" })
        {
            var path = Path.Combine(folder, file);
            if (!File.Exists(path) || eos.Count > 0) continue;
            try
            {
                switch ((JsonNode.Parse(File.ReadAllText(path)) as JsonObject)?["eos_token_id"])
                {
                    case JsonValue v when v.TryGetValue<long>(out var id): eos.Add(id); break;
                    case JsonArray a: eos.AddRange(a.Select(x => x!.GetValue<long>())); break;
                }
            }
            catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        }
        var model = HuggingFaceCheckpoint.Load(folder, device, dtype);
        return new PretrainedLm { Model = model, Tokenizer = tokenizer, EndOfSequence = eos };
    }

    /// <summary>Encodes <paramref name="prompt"/>, generates (stopping at end of sequence), and decodes the new tokens.</summary>
    public string Complete(string prompt, GenerationOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(prompt);
        options ??= new GenerationOptions { MaxNewTokens = 32 };
        if (options.StopTokens.Count == 0) options = options with { StopTokens = EndOfSequence.ToArray() };
        var ids = Tokenizer.EncodeToIds(prompt);
        using var scope = torch.NewDisposeScope();
        var tokens = torch.tensor(ids.Select(i => (long)i).ToArray(), ScalarType.Int64, Model.Device).unsqueeze(0);
        using var result = Generation.Generate(Model, tokens, options);
        var fresh = result.Tokens[0].cpu().data<long>().ToArray().Skip(ids.Count).Take(result.Generated[0])
            .Where(t => !EndOfSequence.Contains(t)).Select(t => (int)t);
        return Tokenizer.Decode(fresh) ?? "";
    }

    /// <inheritdoc/>
    public void Dispose() => Model.Dispose();
}
