using System.Runtime.InteropServices;
using System.Text;

namespace AttnKit.Core.Gpu;

/// <summary>What NVML says of one GPU.</summary>
/// <param name="Index">NVML's device index.</param>
/// <param name="Name">The product name, e.g. "NVIDIA H100 80GB HBM3".</param>
/// <param name="TotalBytes">Device memory in bytes.</param>
/// <param name="UsedBytes">Device memory in use, by every process, in bytes.</param>
public sealed record GpuInfo(int Index, string Name, ulong TotalBytes, ulong UsedBytes);

/// <summary>
/// The NVIDIA Management Library (libnvidia-ml, installed with the driver): GPU names and memory in use, which
/// TorchSharp 0.107 does not expose. Every call returns null where NVML is absent (no NVIDIA driver).
/// </summary>
public static class Nvml
{
    private static readonly Lock Gate = new();
    private static IntPtr _lib;
    private static bool _tried;

    [StructLayout(LayoutKind.Sequential)]
    private struct Memory { public ulong Total, Free, Used; }

    private delegate int InitFn();
    private delegate int CountFn(out uint count);
    private delegate int HandleFn(uint index, out IntPtr device);
    private delegate int NameFn(IntPtr device, byte[] name, uint length);
    private delegate int MemoryFn(IntPtr device, out Memory memory);

    private static T? Fn<T>(string name) where T : Delegate =>
        NativeLibrary.TryGetExport(_lib, name, out var p) ? Marshal.GetDelegateForFunctionPointer<T>(p) : null;

    private static bool Init()
    {
        lock (Gate)
        {
            if (_tried) return _lib != IntPtr.Zero;
            _tried = true;
            foreach (var name in OperatingSystem.IsWindows() ? new[] { "nvml.dll" } : ["libnvidia-ml.so.1", "libnvidia-ml.so"])
                if (NativeLibrary.TryLoad(name, out _lib)) break;
            if (_lib == IntPtr.Zero) return false;
            if (Fn<InitFn>("nvmlInit_v2")?.Invoke() != 0) _lib = IntPtr.Zero;
            return _lib != IntPtr.Zero;
        }
    }

    /// <summary>Every GPU NVML sees, or null without NVML.</summary>
    public static IReadOnlyList<GpuInfo>? Devices()
    {
        try
        {
            if (!Init()) return null;
            var count = Fn<CountFn>("nvmlDeviceGetCount_v2");
            var handle = Fn<HandleFn>("nvmlDeviceGetHandleByIndex_v2");
            var name = Fn<NameFn>("nvmlDeviceGetName");
            var memory = Fn<MemoryFn>("nvmlDeviceGetMemoryInfo");
            if (count is null || handle is null || name is null || memory is null || count(out var n) != 0) return null;
            var list = new List<GpuInfo>();
            for (uint i = 0; i < n; i++)
            {
                if (handle(i, out var dev) != 0) continue;
                var buffer = new byte[256];
                string text = name(dev, buffer, (uint)buffer.Length) == 0 ? Encoding.ASCII.GetString(buffer, 0, Math.Max(0, Array.IndexOf(buffer, (byte)0))) : "unknown";
                var mem = memory(dev, out var m) == 0 ? m : default;
                list.Add(new GpuInfo((int)i, text, mem.Total, mem.Used));
            }
            return list;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or MarshalDirectiveException)
        {
            return null;
        }
    }
}
