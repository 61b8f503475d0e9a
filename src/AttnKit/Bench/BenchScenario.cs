using System.Reflection;
using AttnKit.Core;
using static TorchSharp.torch;

namespace AttnKit.Bench;

/// <summary>What a scenario runs on and how long it may take.</summary>
/// <param name="Device">The device.</param>
/// <param name="Profile">Quick (CPU, small problem) or full (GPU, the full-size problem).</param>
/// <param name="Log">Progress lines (a terminal shows them live).</param>
/// <param name="TimeBudgetSeconds">Overrides the scenario's own time limit (a smoke run gives a few seconds).</param>
/// <param name="WorkDir">A folder the scenario may write files to for a side-by-side run outside the kit (a checkpoint, prompts); null: none.</param>
public sealed record BenchScenarioContext(Device Device, SizeProfile Profile, Action<string> Log, double? TimeBudgetSeconds = null, string? WorkDir = null);

/// <summary>One measured row of a scenario.</summary>
/// <param name="Case">Row name, e.g. "mqar-train".</param>
/// <param name="Path">What ran (model, task, precision).</param>
/// <param name="Shape">Batch, heads, tokens, head dim and dtype of the run.</param>
/// <param name="MsPerStep">Milliseconds per step (a training step, or a decoding step of the whole batch).</param>
/// <param name="TokensPerSecond">Tokens per second (training input tokens, or generated tokens over the batch).</param>
/// <param name="Note">How the numbers are counted.</param>
/// <param name="SecondsToTarget">Seconds until the held-out metric reached the target (null: not reached).</param>
/// <param name="Metric">The final held-out metric.</param>
public sealed record BenchScenarioRow(string Case, string Path, BenchShape Shape, double MsPerStep, double TokensPerSecond, string Note,
    double? SecondsToTarget = null, double? Metric = null);

/// <summary>
/// A benchmark that is a whole run rather than one timed operation: training a model to a target, then decoding
/// with it. Its rows report seconds to target, the final metric and throughputs. Scenarios register themselves like
/// cases: every public type implementing <see cref="IBenchScenarioProvider"/> is found by <see cref="BenchRegistry.Scenarios"/>.
/// </summary>
public interface IBenchScenario
{
    /// <summary>The suite ("train" or "generate").</summary>
    string Suite { get; }
    /// <summary>The scenario's name.</summary>
    string Name { get; }
    /// <summary>Runs it and returns its rows.</summary>
    IReadOnlyList<BenchScenarioRow> Run(BenchScenarioContext context);
}

/// <summary>Supplies scenarios (see <see cref="IBenchScenario"/>).</summary>
public interface IBenchScenarioProvider
{
    /// <summary>The scenarios.</summary>
    IEnumerable<IBenchScenario> Scenarios();
}
