using System.Reflection;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>The size of one measurement.</summary>
/// <param name="Batch">B.</param>
/// <param name="Heads">Query heads H.</param>
/// <param name="KvHeads">Key/value heads (a divisor of H).</param>
/// <param name="Tokens">Sequence length N (for decode: the context length).</param>
/// <param name="HeadDim">Head dimension D.</param>
/// <param name="DType">Element type.</param>
public sealed record BenchShape(long Batch, long Heads, long KvHeads, long Tokens, long HeadDim, ScalarType DType)
{
    /// <summary>Bytes per element of <see cref="DType"/>.</summary>
    public long ElementBytes => DType switch { ScalarType.Float64 or ScalarType.Int64 => 8, ScalarType.Float16 or ScalarType.BFloat16 => 2, _ => 4 };
    /// <summary>"bf16", "fp16", "fp32".</summary>
    public string DTypeName => DType switch { ScalarType.BFloat16 => "bf16", ScalarType.Float16 => "fp16", ScalarType.Float64 => "fp64", _ => "fp32" };
    /// <summary>4·B·H·N²·D: the multiply-adds of QKᵀ and PV, counted as two operations each.</summary>
    public double AttentionFlops => 4.0 * Batch * Heads * Tokens * Tokens * HeadDim;
}

/// <summary>A prepared measurement: inputs allocated, <see cref="Step"/> runs the operation once.</summary>
public interface IBenchRun : IDisposable
{
    /// <summary>Runs the operation once (results are disposed inside).</summary>
    void Step();

    /// <summary>
    /// Steps to run before timing, at least (the timer's own warm-up is the floor). A case whose shapes change from
    /// step to step (a cache that grows and evicts) needs a cycle of them first: the first call at each new key count
    /// costs tens of milliseconds on the H200 machine (libtorch specializing its kernels and TorchScript functions), once
    /// per process.
    /// </summary>
    int WarmupSteps => 0;
}

/// <summary>
/// One row family of the benchmark. Cases register themselves: every public non-abstract type implementing
/// <see cref="IBenchCaseProvider"/> in the kit is found by <see cref="BenchRegistry"/>, so a new family, cache or
/// model adds a row by adding a provider, without touching the command.
/// </summary>
public interface IBenchCase
{
    /// <summary>"attention", "decode" or "train".</summary>
    string Suite { get; }
    /// <summary>Row name, e.g. "sdpa-causal".</summary>
    string Name { get; }
    /// <summary>Which code path runs: "fused", "fused + mask tensor", "reference", with why when it is not the fused kernel.</summary>
    string Path { get; }
    /// <summary>The name of the same operation in bench/pytorch/attention.py, or null when PyTorch has no counterpart.</summary>
    string? PyTorchName { get; }
    /// <summary>The same operation through PyTorch's FlexAttention (compiled, block-sparse) in bench/pytorch/attention.py, where it has one.</summary>
    string? FlexName => null;
    /// <summary>Floating-point operations of one step (the count is stated in <see cref="FlopsNote"/> where it is not the usual one).</summary>
    double Flops(BenchShape shape);
    /// <summary>How <see cref="Flops"/> counts.</summary>
    string FlopsNote { get; }
    /// <summary>Tokens processed per step (for tokens/s).</summary>
    double Tokens(BenchShape shape);
    /// <summary>Bytes of the tensors the operation holds at its peak, counted from shapes.</summary>
    long PeakBytes(BenchShape shape);
    /// <summary>Whether this case runs at <paramref name="shape"/> on <paramref name="device"/>; if not, why.</summary>
    bool Supports(BenchShape shape, Device device, out string why);
    /// <summary>Allocates the inputs.</summary>
    IBenchRun Prepare(BenchShape shape, Device device);
}

/// <summary>Supplies bench cases (see <see cref="IBenchCase"/>).</summary>
public interface IBenchCaseProvider
{
    /// <summary>The cases.</summary>
    IEnumerable<IBenchCase> Cases();
}

/// <summary>Finds every registered bench case.</summary>
public static class BenchRegistry
{
    /// <summary>Every case of every provider in the kit's assembly (and in <paramref name="more"/>), in a stable order.</summary>
    public static IReadOnlyList<IBenchCase> All(params Assembly[] more) =>
        more.Prepend(typeof(BenchRegistry).Assembly).Distinct()
            .SelectMany(a => a.GetTypes())
            .Where(t => t is { IsAbstract: false, IsInterface: false, IsPublic: true } && typeof(IBenchCaseProvider).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .SelectMany(t => ((IBenchCaseProvider)Activator.CreateInstance(t)!).Cases())
            .ToList();

    /// <summary>Every scenario of every <see cref="IBenchScenarioProvider"/> in the kit's assembly (and in <paramref name="more"/>), in a stable order.</summary>
    public static IReadOnlyList<IBenchScenario> Scenarios(params Assembly[] more) =>
        more.Prepend(typeof(BenchRegistry).Assembly).Distinct()
            .SelectMany(a => a.GetTypes())
            .Where(t => t is { IsAbstract: false, IsInterface: false, IsPublic: true } && typeof(IBenchScenarioProvider).IsAssignableFrom(t) && t.GetConstructor(Type.EmptyTypes) is not null)
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .SelectMany(t => ((IBenchScenarioProvider)Activator.CreateInstance(t)!).Scenarios())
            .ToList();
}
