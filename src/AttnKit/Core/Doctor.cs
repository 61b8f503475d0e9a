using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using AttnKit.Attention;
using AttnKit.Core.Gpu;
using AttnKit.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Core;

/// <summary>One line of the diagnosis.</summary>
/// <param name="Name">What was checked.</param>
/// <param name="Ok">Whether it is fine.</param>
/// <param name="Detail">What was found.</param>
/// <param name="Fix">How to fix it, when not fine.</param>
public sealed record DoctorCheck(string Name, bool Ok, string Detail, string? Fix = null);

/// <summary>The doctor's checks, in order; notebooks show them as a table.</summary>
public sealed class DoctorReport(IReadOnlyList<DoctorCheck> checks) : IReadOnlyList<DoctorCheck>
{
    /// <summary>Whether every check passed.</summary>
    public bool AllOk => checks.All(c => c.Ok);
    /// <inheritdoc/>
    public DoctorCheck this[int index] => checks[index];
    /// <inheritdoc/>
    public int Count => checks.Count;
    /// <inheritdoc/>
    public IEnumerator<DoctorCheck> GetEnumerator() => checks.GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>
/// What loaded and whether it works: platform, the Linux compatibility step, TorchSharp and its libtorch, the
/// device, and a small attention on it (fused against the reference). Used by the runner's <c>doctor</c> and the
/// notebooks' setup.
/// </summary>
public static class Doctor
{
    /// <summary>Runs every check. <paramref name="device"/> and <paramref name="profile"/> override ATTN_DEVICE and ATTN_PROFILE.</summary>
    public static DoctorReport Run(string? device = null, string? profile = null) => new(Checks(device, profile));

    private static List<DoctorCheck> Checks(string? device, string? profile)
    {
        var checks = new List<DoctorCheck>
        {
            new("platform", true, $"{RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}, .NET {Environment.Version}"),
        };

        var compat = NativeCompatibility.Report;
        checks.Add(new("Linux compatibility step", compat.Error is null,
            compat.Needed ? (compat.Applied ? "needed and used: " : "needed, not applied: ") + compat.Summary : "not needed: " + compat.Summary,
            compat.Error is null ? null : compat.Error.Split('\n')[0]));

        string version;
        try
        {
            Kit.CudaAvailable(out _); // the first TorchSharp call asks for the CUDA backend, so a CUDA build binds it
            version = torch.__version__;
        }
        catch (Exception e)
        {
            checks.Add(new("TorchSharp", false, "its native library did not load: " + Innermost(e).Message,
                "reference TorchSharp-cpu (or TorchSharp-cuda-linux / TorchSharp-cuda-windows) 0.107.0 in the project that runs the kit, and build again"));
            return checks;
        }
        var asm = typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion?.Split('+')[0];
        checks.Add(new("TorchSharp", true, $"TorchSharp {asm ?? version}"));
        checks.Add(new("libtorch backend", true, Backend()));

        KitSettings settings;
        try
        {
            settings = Kit.Resolve(device ?? Environment.GetEnvironmentVariable("ATTN_DEVICE"), profile ?? Environment.GetEnvironmentVariable("ATTN_PROFILE"));
        }
        catch (InvalidOperationException e)
        {
            checks.Add(new("device", false, e.Message, "unset ATTN_DEVICE (or pass --device auto/cpu), or install a CUDA build of TorchSharp where a GPU is present"));
            return checks;
        }
        bool cuda = Kit.CudaAvailable(out var why);
        var gpus = Nvml.Devices();
        string gpuText = gpus is null ? "no NVIDIA driver (NVML) found" : string.Join("; ", gpus.Select(g => $"GPU {g.Index}: {g.Name}, {g.TotalBytes / (1L << 30)} GiB"));
        checks.Add(new("CUDA", true, cuda ? $"available: {torch.cuda.device_count()} device(s); {gpuText}" : $"not available: {why}; {gpuText}"));
        string name = settings.IsCuda ? gpus?.ElementAtOrDefault(settings.Device.index < 0 ? 0 : settings.Device.index)?.Name ?? "CUDA device" : "CPU";
        checks.Add(new("device", true, $"{settings.Device} ({name}), {settings.DeviceSource}; profile {settings.Profile.ToString().ToLowerInvariant()}"));
        checks.Add(SmokeTest(settings.Device));
        checks.Add(FusedKernelTest(settings.Device));
        return checks;
    }

    /// <summary>A small causal grouped-query attention on <paramref name="device"/>: the fused path against the float32 reference.</summary>
    public static DoctorCheck SmokeTest(Device device)
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            var gen = new Generator(1234);  // a CPU generator (TorchSharp's are), so the inputs are the same on every device
            var q = torch.randn([2, 8, 128, 64], generator: gen).to(device);
            var k = torch.randn([2, 2, 128, 64], generator: gen).to(device);
            var v = torch.randn([2, 2, 128, 64], generator: gen).to(device);
            var watch = Stopwatch.StartNew();
            var fused = ScaledDotProductAttention.Fused(q, k, v, AttentionOptions.Causal);
            if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
            double ms = watch.Elapsed.TotalMilliseconds;
            var reference = ScaledDotProductAttention.Reference(q, k, v, AttentionOptions.Causal).Output;
            double err = ((fused - reference).pow(2).sum() / reference.pow(2).sum()).sqrt().item<float>();
            var detail = $"causal GQA attention (B=2, Hq=8, Hkv=2, N=128, D=64) on {device}: fused vs reference relative RMS error {err:E2}, first call {ms:F1} ms";
            if (device.type == DeviceType.CUDA)
            {
                var half = ScaledDotProductAttention.Fused(q.to(ScalarType.BFloat16), k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16), AttentionOptions.Causal);
                double errHalf = ((half.to(ScalarType.Float32) - reference).pow(2).sum() / reference.pow(2).sum()).sqrt().item<float>();
                detail += $"; bf16 {errHalf:E2}";
                if (!(errHalf < 2e-2)) return new("smoke test", false, detail, "the bf16 fused kernel disagrees with the reference: report this with the output of doctor");
            }
            return err < 1e-4
                ? new("smoke test", true, detail)
                : new("smoke test", false, detail, "the fused kernel disagrees with the reference: report this with the output of doctor");
        }
        catch (Exception e)
        {
            return new("smoke test", false, $"attention on {device} failed: {Innermost(e).Message}", "run doctor with --device cpu to see whether the CPU works; check the GPU driver with nvidia-smi");
        }
    }

    /// <summary>
    /// Each operation of <see cref="FusedKernels"/> on <paramref name="device"/> against the float32 reference: grouped
    /// attention with a scale, attention with its log-sum-exp, and split-KV decoding; says which implementation ran.
    /// </summary>
    public static DoctorCheck FusedKernelTest(Device device)
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            var gen = new Generator(99);
            var dtypes = device.type == DeviceType.CUDA ? new[] { ScalarType.Float32, ScalarType.BFloat16 } : [ScalarType.Float32];
            var errors = new List<string>();
            bool ok = true;
            foreach (var dt in dtypes)
            {
                var q = torch.randn([2, 8, 64, 64], generator: gen).to(device);
                var k = torch.randn([2, 2, 64, 64], generator: gen).to(device);
                var v = torch.randn([2, 2, 64, 64], generator: gen).to(device);
                var reference = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { Mask = Attention.Masks.Masks.Causal, Scale = 0.1, ReturnLogSumExp = true });
                var full = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { ReturnLogSumExp = true });
                var (qd, kd, vd) = (q.to(dt), k.to(dt), v.to(dt));
                double tol = dt == ScalarType.Float32 ? 1e-4 : 2e-2;
                double Err(Tensor a, Tensor b) => ((a.to(ScalarType.Float32) - b).pow(2).sum() / b.pow(2).sum()).sqrt().item<float>();
                double e1 = Err(FusedKernels.Attention(qd, kd, vd, null, causal: true, scale: 0.1), reference.Output);
                var (o2, l2) = FusedKernels.AttentionWithLogSumExp(qd, kd, vd, causal: true, scale: 0.1);
                double e2 = Math.Max(Err(o2, reference.Output), Err(l2, reference.LogSumExp!));
                double e3 = Err(Attention.Blockwise.SplitKvDecode.Compute(qd, kd, vd, 7), full.Output);
                var one = qd.narrow(2, 63, 1);                                                // a decoding step by each of its paths
                var oneRef = ScaledDotProductAttention.Reference(q.narrow(2, 63, 1), k, v).Output;
                double e4 = new[] { FusedKernels.TorchSharpAttention(one, kd, vd, null, false, null, 4), FusedKernels.ExpandedHeads(one, kd, vd, null, 4), FusedKernels.Sdpa(one, kd, vd, null, false, null, 4) }
                    .Max(o => Err(o, oneRef));
                var window = ScaledDotProductAttention.Reference(q, k, v, new AttentionOptions { Mask = Attention.Masks.Masks.SlidingWindow(16) }).Output;
                double e5 = Err(ScaledDotProductAttention.Fused(qd, kd, vd, new AttentionOptions { Mask = Attention.Masks.Masks.SlidingWindow(16) }), window);
                var causal = ScaledDotProductAttention.Reference(q, k, v, AttentionOptions.Causal).Output;
                using var ring = Attention.Parallel.RingAttention.Forward(qd, kd, vd, Attention.Parallel.ShardGroup.Create(4, device), new Attention.Parallel.ZigZagLayout(64, 4), Attention.Blockwise.BlockwiseOptions.Causal with { FusedTiles = true });
                double e6 = Err(ring.Output, causal);
                using var tiles = Attention.Blockwise.FlashAttention.Forward(qd, kd, vd, Attention.Blockwise.BlockwiseOptions.Causal with { QueryBlock = 32, KeyBlock = 32, FusedTiles = true });
                double e7 = Err(tiles.Output, causal);
                ok &= e1 < tol && e2 < tol && e3 < tol && e4 < tol && e5 < tol && e6 < tol && e7 < tol;
                errors.Add($"{dt}: sdpa {e1:E1}, with log-sum-exp {e2:E1}, split-KV {e3:E1}, decode paths {e4:E1}, sliding window {e5:E1}, fused ring {e6:E1}, fused tiles {e7:E1}");
            }
            var impl = string.Join("; ", FusedKernels.Implementations.Where(kv => kv.Key.Contains($"on {device.type.ToString().ToLowerInvariant()}", StringComparison.Ordinal)).Select(kv => $"{kv.Key}: {kv.Value}"));
            var detail = $"relative RMS error against the reference: {string.Join("; ", errors)}. Ran: {impl}";
            return ok ? new("fused kernels", true, detail) : new("fused kernels", false, detail, "a fused kernel disagrees with the reference: report this with the output of doctor");
        }
        catch (Exception e)
        {
            return new("fused kernels", false, $"the fused kernels failed on {device}: {Innermost(e).Message}", FusedKernels.Available ? null : "TorchScript did not compile: " + FusedKernels.CompileError);
        }
    }

    private static string Backend()
    {
        var loaded = LoadedModules();
        var cpu = loaded.FirstOrDefault(p => Path.GetFileName(p).StartsWith("libtorch_cpu", StringComparison.Ordinal) || Path.GetFileName(p).Equals("torch_cpu.dll", StringComparison.OrdinalIgnoreCase));
        var cudaLib = loaded.FirstOrDefault(p => Path.GetFileName(p).StartsWith("libtorch_cuda", StringComparison.Ordinal) || Path.GetFileName(p).Equals("torch_cuda.dll", StringComparison.OrdinalIgnoreCase));
        var sharp = loaded.FirstOrDefault(p => Path.GetFileName(p).Contains("LibTorchSharp", StringComparison.Ordinal));
        return $"{(cudaLib is null ? "CPU build" : "CUDA build")} of libtorch from {Path.GetDirectoryName(cpu) ?? "(not loaded yet)"}; LibTorchSharp from {sharp ?? "(unknown)"}";
    }

    private static List<string> LoadedModules()
    {
        try
        {
            if (OperatingSystem.IsLinux())
                return File.ReadLines("/proc/self/maps").Select(l => l.IndexOf('/') is var i and >= 0 ? l[i..] : "").Where(p => p.Length > 0).Distinct().ToList();
            return Process.GetCurrentProcess().Modules.Cast<ProcessModule>().Select(m => m.FileName ?? "").ToList();
        }
        catch (Exception) { return []; }
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null) e = e.InnerException;
        return e;
    }
}
