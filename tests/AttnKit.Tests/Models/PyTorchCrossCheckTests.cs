using System.Diagnostics;
using System.Text.Json;
using AttnKit.Models;
using AttnKit.Models.Checkpoints;
using AttnKit.Positional;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Models;

/// <summary>
/// The kit's model against a Llama computed outside it: bench/pytorch/llama_reference.py (Hugging Face transformers when
/// installed, otherwise an independent PyTorch implementation) reads a checkpoint the kit wrote and returns its logits.
/// Needs python3 with torch (the GPU machine has it); skips, saying so, elsewhere.
/// </summary>
[Collection("global RNG")]
public class PyTorchCrossCheckTests
{
    [Fact]
    public void The_kit_computes_the_same_logits_as_pytorch_for_checkpoints_it_wrote()
    {
        var (probe, probeOut) = Python("-c \"import torch\"");
        if (probe != 0) Assert.Skip($"needs python3 with torch: {probeOut.Trim()}");
        CrossCheck(2, false, false, false);     // GQA, untied
        CrossCheck(1, true, true, false);       // MQA, tied, Qwen2 biases
        CrossCheck(4, false, false, true);      // MHA, Llama 3.1 RoPE scaling
    }

    private static void CrossCheck(int kvHeads, bool tie, bool qkvBias, bool llama3)
    {
        var script = Path.Combine(RepositoryRoot(), "bench", "pytorch", "llama_reference.py");
        var dir = Directory.CreateTempSubdirectory("attn-xcheck-").FullName;
        try
        {
            torch.manual_seed(8);
            var config = new TinyLmConfig
            {
                VocabSize = 50, ModelDim = 48, Layers = 2, Heads = 4, KvHeads = kvHeads, TieEmbeddings = tie, QkvBias = qkvBias, MlpDim = 64, RopeTheta = 1000,
                RopeScaling = llama3 ? new Llama3RopeScaling(4, 1, 4, 8) : null,
            };
            using var model = new TinyLm(config, T.Dev);
            using (torch.no_grad()) foreach (var (n, p) in model.named_parameters()) if (n.EndsWith(".bias") || n.Contains("norm")) p.normal_(1, 0.2);
            HuggingFaceCheckpoint.Save(model, dir, ScalarType.Float32);
            var tokens = new long[2, 11];
            var random = new Random(3);
            for (int b = 0; b < 2; b++) for (int i = 0; i < 11; i++) tokens[b, i] = random.Next(50);
            File.WriteAllText(Path.Combine(dir, "tokens.json"), JsonSerializer.Serialize(Enumerable.Range(0, 2).Select(b => Enumerable.Range(0, 11).Select(i => tokens[b, i]))));
            var (code, output) = Python($"\"{script}\" \"{dir}\" \"{Path.Combine(dir, "tokens.json")}\" \"{Path.Combine(dir, "out.json")}\"");
            Assert.True(code == 0, output);
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "out.json")));
            var theirs = doc.RootElement.GetProperty("logits").EnumerateArray().SelectMany(r => r.EnumerateArray().SelectMany(t => t.EnumerateArray().Select(x => x.GetDouble()))).ToArray();
            using var scope = torch.NewDisposeScope();
            using var noGrad = torch.no_grad();
            var ours = model.Forward(torch.tensor(tokens, device: T.Dev)).to(ScalarType.Float64).cpu();
            T.Close(torch.tensor(theirs).view(ours.shape), ours, 1e-4, $"logits against {doc.RootElement.GetProperty("implementation").GetString()}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static (int Code, string Output) Python(string args)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("python3", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var err = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output + err.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (127, "python3 not found: " + e.Message);
        }
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "AttnNotebooks.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the tests do not run inside the repository");
    }
}
