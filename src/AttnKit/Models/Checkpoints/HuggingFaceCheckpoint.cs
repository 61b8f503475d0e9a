using System.Text.Json;
using System.Text.Json.Nodes;
using AttnKit.Core;
using AttnKit.Positional;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Models.Checkpoints;

/// <summary>
/// Llama-family checkpoints in the Hugging Face layout: a folder with <c>config.json</c> and the weights in one
/// <c>model.safetensors</c> or several shards (listed by <c>model.safetensors.index.json</c>, or every
/// <c>*.safetensors</c> in the folder). The architectures read are LlamaForCausalLM, MistralForCausalLM (without a
/// sliding window) and Qwen2ForCausalLM (biases on q, k, v); grouped-query heads, head_dim, rope_theta,
/// partial_rotary_factor, rms_norm_eps and tied embeddings come from the config. Weights may be fp32, fp16 or bf16 and
/// are converted to the dtype asked for.
/// </summary>
public static class HuggingFaceCheckpoint
{
    private static readonly string[] Architectures = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"];

    /// <summary>The model configuration of <c>config.json</c> in <paramref name="folder"/>.</summary>
    /// <exception cref="FileNotFoundException">No config.json.</exception>
    /// <exception cref="InvalidDataException">A config of an architecture or setting the kit does not load, saying which.</exception>
    public static TinyLmConfig ReadConfig(string folder)
    {
        var path = Path.Combine(folder, "config.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"no config.json in {folder}: a Hugging Face checkpoint folder has config.json and *.safetensors", path);
        JsonObject c;
        try { c = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"{path}: expected a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        var arch = (c["architectures"] as JsonArray)?.Select(a => a?.GetValue<string>()).FirstOrDefault();
        if (arch is null || !Architectures.Contains(arch))
            throw new InvalidDataException($"{path}: architecture '{arch ?? "(none)"}' is not one the kit loads ({string.Join(", ", Architectures)})");
        int Int(string key, int? fallback = null) => c[key] is JsonValue v && v.TryGetValue<int>(out var x) ? x
            : fallback ?? throw new InvalidDataException($"{path}: missing integer '{key}'");
        double Num(string key, double fallback) => c[key] is JsonValue v && v.TryGetValue<double>(out var x) ? x : fallback;
        bool Flag(string key, bool fallback) => c[key] is JsonValue v && v.TryGetValue<bool>(out var x) ? x : fallback;
        RopeScaling? ropeScaling = null;
        if (c["rope_scaling"] is JsonObject scaling)
        {
            var kind = (scaling["rope_type"] ?? scaling["type"])?.GetValue<string>();
            double S(string key) => scaling[key] is JsonValue v && v.TryGetValue<double>(out var x) ? x : throw new InvalidDataException($"{path}: rope_scaling lacks '{key}'");
            ropeScaling = kind switch
            {
                "linear" => new LinearRopeScaling(S("factor")),
                "llama3" => new Llama3RopeScaling(S("factor"), S("low_freq_factor"), S("high_freq_factor"), (int)S("original_max_position_embeddings")),
                "default" => null,
                _ => throw new InvalidDataException($"{path}: rope_scaling of type '{kind}' is not supported; the kit reads 'linear' and 'llama3'"),
            };
        }
        if (arch == "MistralForCausalLM" && c["sliding_window"] is JsonValue sw && sw.TryGetValue<int>(out var window) && window < Int("max_position_embeddings", int.MaxValue))
            throw new InvalidDataException($"{path}: a sliding window of {window} tokens is not supported by the loader");
        if (arch == "Qwen2ForCausalLM" && Flag("use_sliding_window", false))
            throw new InvalidDataException($"{path}: use_sliding_window is not supported by the loader");
        int hidden = Int("hidden_size"), heads = Int("num_attention_heads");
        int headDim = Int("head_dim", heads > 0 ? hidden / heads : 0);
        double partial = Num("partial_rotary_factor", 1.0);
        var act = c["hidden_act"]?.GetValue<string>() ?? "silu";
        if (act != "silu") throw new InvalidDataException($"{path}: hidden_act '{act}' is not supported (the kit's MLP is SwiGLU with SiLU)");
        var config = new TinyLmConfig
        {
            VocabSize = Int("vocab_size"),
            ModelDim = hidden,
            Layers = Int("num_hidden_layers"),
            Heads = heads,
            KvHeads = Int("num_key_value_heads", heads),
            HeadDim = headDim,
            MlpDim = Int("intermediate_size"),
            RopeTheta = Num("rope_theta", 10000.0),
            RopeScaling = ropeScaling,
            RotaryDim = partial == 1.0 ? null : (int)(headDim * partial) / 2 * 2,
            NormEps = Num("rms_norm_eps", 1e-6),
            TieEmbeddings = Flag("tie_word_embeddings", false),
            QkvBias = arch == "Qwen2ForCausalLM" || Flag("attention_bias", false),
        };
        try { config.Validate(); }
        catch (ArgumentException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        return config;
    }

    /// <summary>
    /// Loads the checkpoint in <paramref name="folder"/> as a <see cref="TinyLm"/> on <paramref name="device"/> in
    /// <paramref name="dtype"/> (default: the kit's device and dtype).
    /// 1. read config.json into a configuration; 2. build the model; 3. for each parameter, read the tensor of the
    /// same name from whichever shard holds it, check its shape, convert and copy it in; 4. fail, naming them, if any
    /// parameter is missing.
    /// </summary>
    /// <exception cref="InvalidDataException">A bad config, a bad or truncated safetensors file, a missing tensor, or a shape that does not match.</exception>
    public static TinyLm Load(string folder, Device? device = null, ScalarType? dtype = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"no checkpoint folder {folder}");
        var config = ReadConfig(folder);                                                    // 1.
        var shards = ShardFiles(folder);
        var files = shards.Select(SafeTensorsFile.Open).ToList();
        TinyLm? model = null;
        try
        {
            var where = new Dictionary<string, (SafeTensorsFile File, SafeTensorEntry Entry)>();
            foreach (var f in files) foreach (var e in f.Entries) where[e.Name] = (f, e);
            model = new TinyLm(config, device, dtype);                                     // 2.
            var missing = new List<string>();
            using (torch.no_grad())
            {
                foreach (var (name, p) in model.named_parameters())
                {
                    if (!where.TryGetValue(name, out var at)) { missing.Add(name); continue; }
                    if (!at.Entry.Shape.SequenceEqual(p.shape))
                        throw new InvalidDataException($"{at.File.Path}: tensor '{name}' has shape ({string.Join(", ", at.Entry.Shape)}); the config makes it ({string.Join(", ", p.shape)})");
                    if (!at.Entry.DType.StartsWith('F') && at.Entry.DType != "BF16")
                        throw new InvalidDataException($"{at.File.Path}: tensor '{name}' is {at.Entry.DType}; expected floating-point weights (quantized checkpoints are not supported)");
                    using var t = at.File.Read(at.Entry);                                  // 3.
                    p.copy_(t);
                }
            }
            if (missing.Count > 0)                                                          // 4.
                throw new InvalidDataException($"{folder}: the checkpoint lacks {missing.Count} tensor(s) the config needs: {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? " …" : "")}");
            return model;
        }
        catch
        {
            model?.Dispose();
            throw;
        }
        finally
        {
            foreach (var f in files) f.Dispose();
        }
    }

    /// <summary>
    /// Writes <paramref name="model"/> as a Hugging Face checkpoint: config.json (LlamaForCausalLM, or Qwen2ForCausalLM
    /// when it has q/k/v biases) and model.safetensors in <paramref name="dtype"/> (default: the model's). Only models
    /// with the default attention (<see cref="LlamaAttention"/>) have this layout.
    /// </summary>
    public static void Save(TinyLm model, string folder, ScalarType? dtype = null, int shards = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Check.Positive(shards, nameof(shards));
        var cfg = model.Config;
        if (cfg.Attention is not null) throw new ArgumentException($"{nameof(model)}: only models with the default Llama attention have the Hugging Face layout", nameof(model));
        var type = dtype ?? model.DType;
        if (type is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"{nameof(dtype)}: expected Float32, Float16 or BFloat16, got {type}", nameof(dtype));
        Directory.CreateDirectory(folder);
        var arch = cfg.QkvBias ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray(arch),
            ["model_type"] = cfg.QkvBias ? "qwen2" : "llama",
            ["vocab_size"] = cfg.VocabSize, ["hidden_size"] = cfg.ModelDim, ["intermediate_size"] = cfg.MlpWidth,
            ["num_hidden_layers"] = cfg.Layers, ["num_attention_heads"] = cfg.Heads, ["num_key_value_heads"] = cfg.KvHeadCount,
            ["head_dim"] = cfg.Dim, ["rope_theta"] = cfg.RopeTheta, ["rms_norm_eps"] = cfg.NormEps,
            ["partial_rotary_factor"] = (double)cfg.Rotary / cfg.Dim,
            ["rope_scaling"] = cfg.RopeScaling switch
            {
                LinearRopeScaling l => new JsonObject { ["rope_type"] = "linear", ["factor"] = l.Factor },
                Llama3RopeScaling l => new JsonObject { ["rope_type"] = "llama3", ["factor"] = l.Factor, ["low_freq_factor"] = l.LowFreqFactor, ["high_freq_factor"] = l.HighFreqFactor, ["original_max_position_embeddings"] = l.OriginalContext },
                _ => null,
            },
            ["tie_word_embeddings"] = cfg.TieEmbeddings, ["hidden_act"] = "silu",
            ["torch_dtype"] = type switch { ScalarType.Float16 => "float16", ScalarType.BFloat16 => "bfloat16", _ => "float32" },
        };
        using var scope = torch.NewDisposeScope();
        var tensors = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().to(type).cpu());
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        if (shards == 1)
        {
            SafeTensors.Write(Path.Combine(folder, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }
        else
        {
            var map = new JsonObject();
            for (int s = 0; s < shards; s++)
            {
                var file = $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
                var part = names.Where((_, i) => i % shards == s).ToDictionary(n => n, n => tensors[n]);
                SafeTensors.Write(Path.Combine(folder, file), part, new Dictionary<string, string> { ["format"] = "pt" });
                foreach (var n in part.Keys) map[n] = file;
            }
            File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), new JsonObject { ["metadata"] = new JsonObject(), ["weight_map"] = map }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
        File.WriteAllText(Path.Combine(folder, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static List<string> ShardFiles(string folder)
    {
        var index = Path.Combine(folder, "model.safetensors.index.json");
        if (File.Exists(index))
        {
            JsonObject? map;
            try { map = (JsonNode.Parse(File.ReadAllText(index)) as JsonObject)?["weight_map"] as JsonObject; }
            catch (JsonException e) { throw new InvalidDataException($"{index}: not valid JSON ({e.Message})"); }
            if (map is null) throw new InvalidDataException($"{index}: missing weight_map");
            var files = map.Select(kv => kv.Value?.GetValue<string>() ?? throw new InvalidDataException($"{index}: weight_map['{kv.Key}'] is not a file name"))
                .Distinct().Select(f => Path.Combine(folder, f)).ToList();
            foreach (var f in files)
                if (!File.Exists(f)) throw new InvalidDataException($"{index}: lists {Path.GetFileName(f)}, which is not in {folder}");
            return files;
        }
        var all = Directory.EnumerateFiles(folder, "*.safetensors").Order(StringComparer.Ordinal).ToList();
        if (all.Count == 0) throw new InvalidDataException($"{folder}: no *.safetensors files (the kit reads safetensors weights, not .bin or .pth)");
        return all;
    }
}
