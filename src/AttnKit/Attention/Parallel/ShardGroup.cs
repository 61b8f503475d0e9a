using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Attention.Parallel;

/// <summary>One message between shards: at which step, from and to which shard, how many bytes, and what it carried.</summary>
public sealed record Transfer(int Step, int From, int To, long Bytes, string What);

/// <summary>
/// P shards for sequence- and context-parallel attention: each shard has a device; a <see cref="Send"/> moves a tensor
/// to the receiving shard's device and is logged (step, bytes), so communication volume and the number of steps are
/// counted from what the algorithms actually send. With more than one CUDA device, shards are separate GPUs (shard s on
/// GPU s mod G) and a send is a device-to-device copy; otherwise all shards share one device and are simulated (the
/// same computation, the copy is an alias). Both give the single-device result.
/// </summary>
public sealed class ShardGroup
{
    private readonly List<Transfer> _log = [];

    /// <summary>The device of each shard.</summary>
    public IReadOnlyList<Device> Devices { get; }

    /// <summary>P.</summary>
    public int Count => Devices.Count;

    /// <summary>True when shards share a device (simulated), false when every shard has its own.</summary>
    public bool Simulated => Devices.Select(d => d.ToString()).Distinct().Count() < Count;

    /// <summary>Every transfer so far, in order.</summary>
    public IReadOnlyList<Transfer> Log => _log;

    /// <summary>Shards on the given devices (one per shard).</summary>
    public ShardGroup(IReadOnlyList<Device> devices)
    {
        ArgumentNullException.ThrowIfNull(devices);
        if (devices.Count == 0) throw new ArgumentException($"{nameof(devices)}: expected at least one shard", nameof(devices));
        if (devices.Any(d => d is null)) throw new ArgumentException($"{nameof(devices)}: a device is null", nameof(devices));
        Devices = devices.ToArray();
    }

    /// <summary>
    /// P shards: one per CUDA device when the kit runs on CUDA and more than one GPU is present (shard s on GPU s mod G),
    /// else all simulated on <paramref name="device"/> (the kit's device when null).
    /// </summary>
    public static ShardGroup Create(int shards, Device? device = null)
    {
        Check.Positive(shards, nameof(shards));
        device ??= Kit.Device;
        int gpus = device.type == DeviceType.CUDA ? (int)torch.cuda.device_count() : 0;
        var devices = gpus > 1
            ? Enumerable.Range(0, shards).Select(s => new Device(DeviceType.CUDA, s % gpus)).ToArray()
            : Enumerable.Repeat(device, shards).ToArray();
        return new ShardGroup(devices);
    }

    /// <summary>Moves <paramref name="t"/> to shard <paramref name="to"/>'s device and logs the transfer.</summary>
    public Tensor Send(Tensor t, int from, int to, int step, string what)
    {
        Check.NotNull(t, nameof(t));
        CheckShard(from, nameof(from));
        CheckShard(to, nameof(to));
        Check.NonNegative(step, nameof(step));
        _log.Add(new Transfer(step, from, to, t.numel() * t.element_size(), what));
        var d = Devices[to];
        return Kit.IsOn(t, d) ? t.alias() : t.to(d);
    }

    /// <summary>
    /// Logs a transfer that a simulated ring carries out for all shards at once (one copy of the stacked blocks on the
    /// shared device): the same entry <see cref="Send"/> would log for each shard's block.
    /// </summary>
    internal void Record(int step, int from, int to, long bytes, string what)
    {
        CheckShard(from, nameof(from));
        CheckShard(to, nameof(to));
        _log.Add(new Transfer(step, from, to, bytes, what));
    }

    /// <summary>Total bytes sent.</summary>
    public long BytesSent => _log.Sum(t => t.Bytes);

    /// <summary>Communication steps: distinct steps at which anything was sent.</summary>
    public int Steps => _log.Select(t => t.Step).Distinct().Count();

    /// <summary>Forgets the log.</summary>
    public void ClearLog() => _log.Clear();

    /// <summary>Waits for every shard's device (CUDA) to finish; nothing on the CPU.</summary>
    public void Synchronize()
    {
        foreach (var d in Devices.Where(d => d.type == DeviceType.CUDA).Select(d => d.index).Distinct())
            torch.cuda.synchronize(new Device(DeviceType.CUDA, d));
    }

    internal void CheckShard(int shard, string name)
    {
        if (shard < 0 || shard >= Count) throw new ArgumentException($"{name}: expected a shard 0..{Count - 1}, got {shard}", name);
    }
}
