using System.Text;
using System.Text.Json.Nodes;
using AttnKit.Models;
using AttnKit.Models.Checkpoints;
using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Models;

[Collection("global RNG")]
public sealed class CheckpointTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("attn-ckpt-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private string File_(string name) => Path.Combine(dir, name);

    [Fact]
    public void Safetensors_round_trip_every_dtype_with_metadata_and_an_aligned_header()
    {
        using var scope = torch.NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["f32"] = torch.randn(3, 4), ["f16"] = torch.randn(2, 5).to(ScalarType.Float16), ["bf16"] = torch.randn(7).to(ScalarType.BFloat16),
            ["f64"] = torch.randn(2, 2, 2, ScalarType.Float64), ["i64"] = torch.arange(6, ScalarType.Int64).view(2, 3), ["i32"] = torch.arange(5, ScalarType.Int32),
            ["u8"] = torch.arange(9, ScalarType.Byte), ["bool"] = torch.tensor(new[] { true, false, true }), ["scalar"] = torch.tensor(2.5f), ["empty"] = torch.zeros(0, 3),
        };
        var path = File_("a.safetensors");
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(0UL, BitConverter.ToUInt64(bytes, 0) % 8);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(tensors.Keys.Order(), file.Entries.Select(e => e.Name).Order());
        foreach (var (name, t) in tensors)
        {
            using var back = file.Read(name);
            Assert.Equal(t.dtype, back.dtype);
            Assert.Equal(t.shape, back.shape);
            Assert.True(t.equal(back).all().item<bool>(), name);
        }
        Assert.Equal("F16", file.Find("f16")!.DType);
        Assert.Throws<KeyNotFoundException>(() => file.Read("nope"));
    }

    [Fact]
    public void Every_truncation_of_a_file_is_refused_with_a_clear_error()
    {
        using var scope = torch.NewDisposeScope();
        var path = File_("t.safetensors");
        SafeTensors.Write(path, new Dictionary<string, Tensor> { ["a"] = torch.randn(3), ["b"] = torch.arange(4, ScalarType.Int64) });
        var bytes = File.ReadAllBytes(path);
        var cut = File_("cut.safetensors");
        for (int n = 0; n < bytes.Length; n++)
        {
            File.WriteAllBytes(cut, bytes[..n]);
            var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(cut).Dispose());
            Assert.Contains("not a valid safetensors file", e.Message);
        }
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlaps")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "gap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype 'Q4'")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "belong to none")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape[0]")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "before begin")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "data_offsets")]
    [InlineData("{\"a\":", 8, "not valid UTF-8 JSON")]
    [InlineData("[1,2]", 0, "not a JSON object")]
    [InlineData("{\"__metadata__\":{\"x\":1}}", 0, "must be a string")]
    public void Malformed_headers_are_refused_saying_what_is_wrong(string header, int dataBytes, string expected)
    {
        var path = File_("m.safetensors");
        var json = Encoding.UTF8.GetBytes(header);
        File.WriteAllBytes(path, [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. new byte[dataBytes]]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_huge_header_length_is_refused_before_allocating()
    {
        var path = File_("h.safetensors");
        File.WriteAllBytes(path, [.. BitConverter.GetBytes(ulong.MaxValue - 3), .. new byte[16]]);
        Assert.Contains("header length", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Open(path).Dispose()).Message);
    }

    [Fact]
    public void Corrupting_any_header_byte_either_still_validates_or_is_refused_cleanly()
    {
        using var scope = torch.NewDisposeScope();
        var path = File_("c.safetensors");
        SafeTensors.Write(path, new Dictionary<string, Tensor> { ["weight"] = torch.randn(2, 3), ["bias"] = torch.randn(3).to(ScalarType.BFloat16) });
        var bytes = File.ReadAllBytes(path);
        int headerEnd = 8 + (int)BitConverter.ToUInt64(bytes, 0);
        var corrupt = File_("c2.safetensors");
        Prop.ForAll(Gen.Choose(0, headerEnd - 1).ToArbitrary(), Gen.Choose(0, 255).ToArbitrary(), (at, value) =>
        {
            var copy = (byte[])bytes.Clone();
            copy[at] = (byte)value;
            File.WriteAllBytes(corrupt, copy);
            try
            {
                using var f = SafeTensorsFile.Open(corrupt);
                foreach (var e in f.Entries) f.Read(e).Dispose();
                return true;
            }
            catch (InvalidDataException) { return true; }
        }).QuickCheckThrowOnFailure();
    }

    [Theory]
    [InlineData(ScalarType.Float32, 2, true, false, 1)]
    [InlineData(ScalarType.Float32, 4, false, true, 3)]
    [InlineData(ScalarType.BFloat16, 1, true, false, 1)]
    [InlineData(ScalarType.Float16, 2, false, false, 2)]
    [InlineData(ScalarType.Float32, 2, true, false, 1, true)]
    public void A_saved_checkpoint_loads_back_with_the_same_logits(ScalarType fileType, int kvHeads, bool tie, bool qkvBias, int shards, bool llama3 = false)
    {
        torch.manual_seed(5);
        var scaling = llama3 ? new AttnKit.Positional.Llama3RopeScaling(8, 1, 4, 16) : null;
        using var model = new TinyLm(new TinyLmConfig { VocabSize = 41, ModelDim = 32, Layers = 2, Heads = 4, KvHeads = kvHeads, TieEmbeddings = tie, QkvBias = qkvBias, RopeTheta = 500000, MlpDim = 48, RopeScaling = scaling }, T.Dev);
        if (qkvBias) using (torch.no_grad()) foreach (var (n, p) in model.named_parameters()) if (n.EndsWith(".bias")) p.normal_();
        HuggingFaceCheckpoint.Save(model, dir, fileType, shards);
        Assert.Equal(shards > 1, File.Exists(File_("model.safetensors.index.json")));
        var config = JsonNode.Parse(File.ReadAllText(File_("config.json")))!;
        Assert.Equal(qkvBias ? "Qwen2ForCausalLM" : "LlamaForCausalLM", config["architectures"]![0]!.GetValue<string>());
        using var loaded = HuggingFaceCheckpoint.Load(dir, T.Dev);
        Assert.Equal(model.Config with { HeadDim = 8 }, loaded.Config);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var tokens = TinyLmTests.Tokens(2, 2, 9).remainder(41);
        if (fileType != ScalarType.Float32)
            using (torch.no_grad()) foreach (var (_, p) in model.named_parameters()) p.copy_(p.to(fileType).to(ScalarType.Float32)); // the written precision
        T.Close(model.Forward(tokens), loaded.Forward(tokens), 1e-6, "logits after a round trip");
        if (tie) Assert.DoesNotContain(loaded.named_parameters(), p => p.name == "lm_head.weight");
    }

    [Fact]
    public void Loading_names_what_is_missing_or_mismatched()
    {
        torch.manual_seed(1);
        using var model = new TinyLm(new TinyLmConfig { VocabSize = 20, ModelDim = 16, Layers = 1, Heads = 2, TieEmbeddings = false }, T.Dev);
        HuggingFaceCheckpoint.Save(model, dir);
        using (var scope = torch.NewDisposeScope())
        {
            using var f = SafeTensorsFile.Open(File_("model.safetensors"));
            var kept = f.Entries.Where(e => e.Name != "lm_head.weight").ToDictionary(e => e.Name, e => f.Read(e));
            f.Dispose();
            SafeTensors.Write(File_("model.safetensors"), kept);
        }
        Assert.Contains("lm_head.weight", Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(dir, T.Dev)).Message);

        var cfg = JsonNode.Parse(File.ReadAllText(File_("config.json")))!.AsObject();
        cfg["tie_word_embeddings"] = true;
        cfg["intermediate_size"] = 40;
        File.WriteAllText(File_("config.json"), cfg.ToJsonString());
        Assert.Contains("the config makes it", Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(dir, T.Dev)).Message);

        cfg["architectures"] = new JsonArray("GPT2LMHeadModel");
        File.WriteAllText(File_("config.json"), cfg.ToJsonString());
        Assert.Contains("GPT2LMHeadModel", Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(dir, T.Dev)).Message);

        cfg["architectures"] = new JsonArray("LlamaForCausalLM");
        cfg["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 };
        File.WriteAllText(File_("config.json"), cfg.ToJsonString());
        Assert.Contains("rope_scaling", Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(dir, T.Dev)).Message);

        cfg.Remove("rope_scaling");
        cfg["num_key_value_heads"] = 3;
        File.WriteAllText(File_("config.json"), cfg.ToJsonString());
        Assert.Contains("KvHeads", Assert.Throws<InvalidDataException>(() => HuggingFaceCheckpoint.Load(dir, T.Dev)).Message);

        File.Delete(File_("config.json"));
        Assert.Throws<FileNotFoundException>(() => HuggingFaceCheckpoint.Load(dir, T.Dev));
        Assert.Throws<DirectoryNotFoundException>(() => HuggingFaceCheckpoint.Load(File_("absent"), T.Dev));
    }

    [Fact]
    public void Loading_leaves_no_tensors_behind_but_the_models()
    {
        torch.manual_seed(1);
        using (var model = new TinyLm(new TinyLmConfig { VocabSize = 20, ModelDim = 16, Layers = 1, Heads = 2 }, T.Dev))
            HuggingFaceCheckpoint.Save(model, dir);
        long before = AttnKit.Core.LiveTensors.Count;
        using (var loaded = HuggingFaceCheckpoint.Load(dir, T.Dev)) { }
        Assert.Equal(before, AttnKit.Core.LiveTensors.Count);
    }

    /// <summary>A byte-level BPE tokenizer.json: every byte symbol, then merges for "he", "ll", "hell", "hello" and " w".</summary>
    private string WriteTokenizer(bool splitPattern, bool pairMerges)
    {
        var symbols = HuggingFaceTokenizer.ByteSymbols();
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[symbols[b].ToString()] = b;
        string sp = HuggingFaceTokenizer.ToByteSymbols(" ");
        string[][] merges = [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], [sp, "w"]];
        int id = 256;
        foreach (var m in merges) vocab[m[0] + m[1]] = id++;
        var pre = splitPattern
            ? new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = new JsonArray(
                new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = HuggingFaceTokenizer.Gpt2Pattern }, ["behavior"] = "Isolated" },
                new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = false }) }
            : new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["use_regex"] = true };
        var root = new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = id, ["content"] = "<|endoftext|>", ["special"] = true }),
            ["pre_tokenizer"] = pre,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.Select(m => pairMerges ? (JsonNode)new JsonArray(m[0], m[1]) : $"{m[0]} {m[1]}").ToArray()),
            },
        };
        File.WriteAllText(File_("tokenizer.json"), root.ToJsonString());
        return dir;
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void A_byte_level_bpe_tokenizer_json_encodes_by_its_merges_and_decodes_back(bool split, bool pairs)
    {
        var tok = HuggingFaceTokenizer.Load(WriteTokenizer(split, pairs));
        var ids = tok.EncodeToIds("hello world<|endoftext|>é");
        // "hello" → 259 (he+ll→hell, +o), " w" → 260, "orld" byte by byte, the special token 261, é as its two UTF-8 bytes
        Assert.Equal(new[] { 259, 260, 'o', 'r', 'l', 'd', 261, 0xC3, 0xA9 }, ids);
        Assert.Equal("hello world<|endoftext|>é", tok.Decode(ids));
    }

    [Fact]
    public void Tokenizers_of_other_schemes_are_refused_saying_why()
    {
        File.WriteAllText(File_("tokenizer.json"), "{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}");
        Assert.Contains("Unigram", Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.Load(dir)).Message);
        File.WriteAllText(File_("tokenizer.json"), "{\"pre_tokenizer\":{\"type\":\"Metaspace\"},\"decoder\":{\"type\":\"Metaspace\"},\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}");
        Assert.Contains("byte-level", Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.Load(dir)).Message);
        File.WriteAllText(File_("tokenizer.json"), "{oops");
        Assert.Contains("JSON", Assert.Throws<InvalidDataException>(() => HuggingFaceTokenizer.Load(dir)).Message);
    }
}

[Collection("global RNG")]
public sealed class PretrainedLmTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("attn-pretrained-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public void A_folder_with_weights_and_tokenizer_completes_text_as_generation_does()
    {
        var symbols = HuggingFaceTokenizer.ByteSymbols();
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[symbols[b].ToString()] = b;
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), new JsonObject
        {
            ["added_tokens"] = new JsonArray(new JsonObject { ["id"] = 256, ["content"] = "</s>", ["special"] = true }),
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = new JsonArray() },
        }.ToJsonString());
        torch.manual_seed(2);
        using (var model = new TinyLm(new TinyLmConfig { VocabSize = 257, ModelDim = 16, Layers = 1, Heads = 2 }, T.Dev))
            HuggingFaceCheckpoint.Save(model, dir);
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        cfg["eos_token_id"] = 256;
        File.WriteAllText(Path.Combine(dir, "config.json"), cfg.ToJsonString());

        using var lm = PretrainedLm.Load(dir, T.Dev);
        Assert.Equal([256L], lm.EndOfSequence);
        var text = lm.Complete("abc", new GenerationOptions { MaxNewTokens = 6 });
        using var scope = torch.NewDisposeScope();
        using var direct = Generation.Generate(lm.Model, torch.tensor(new long[] { 'a', 'b', 'c' }, device: T.Dev).unsqueeze(0), new GenerationOptions { MaxNewTokens = 6, StopTokens = [256] });
        var ids = direct.Tokens[0].cpu().data<long>().ToArray()[3..].Take(direct.Generated[0]).Where(t => t != 256).Select(t => (int)t);
        Assert.Equal(lm.Tokenizer.Decode(ids), text);
    }
}
