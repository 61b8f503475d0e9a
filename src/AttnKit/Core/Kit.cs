using AttnKit.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Core;

/// <summary>How big the notebooks' and benchmarks' problems are: quick fits two CPU cores in about a minute, full is sized for a GPU.</summary>
public enum SizeProfile
{
    /// <summary>Small sizes for CPU and CI.</summary>
    Quick,
    /// <summary>Full sizes for a GPU.</summary>
    Full,
}

/// <summary>The kit's settings: device, default dtype, size profile. Read from the environment once, changeable in code.</summary>
/// <param name="Device">Where tensors live by default.</param>
/// <param name="DType">Default floating-point dtype of model parameters and activations.</param>
/// <param name="Profile">Problem sizes for notebooks and benchmarks.</param>
/// <param name="DeviceSource">Why this device: "ATTN_DEVICE=cpu", "auto: CUDA available", ...</param>
public sealed record KitSettings(Device Device, ScalarType DType, SizeProfile Profile, string DeviceSource)
{
    /// <summary>True when <see cref="Device"/> is a CUDA device.</summary>
    public bool IsCuda => Device.type == DeviceType.CUDA;
}

/// <summary>
/// Entry point of the kit's settings. The device is CUDA when it is available, unless <c>ATTN_DEVICE</c>
/// (<c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>) says otherwise; a forced <c>cuda</c> that cannot load
/// throws and says why. The profile is <c>ATTN_PROFILE</c> (<c>quick</c> or <c>full</c>), by default quick on
/// CPU and full on CUDA. Touching this class first runs the Linux compatibility step for TorchSharp's
/// native library (<see cref="NativeCompatibility"/>).
/// </summary>
public static class Kit
{
    private static readonly Lock Gate = new();
    private static KitSettings? _settings;

    /// <summary>The current settings, resolved from the environment on first use.</summary>
    /// <exception cref="InvalidOperationException">ATTN_DEVICE or ATTN_PROFILE holds an unknown value, or forces CUDA where it cannot load.</exception>
    public static KitSettings Settings
    {
        get { lock (Gate) { return _settings ??= Resolve(Environment.GetEnvironmentVariable("ATTN_DEVICE"), Environment.GetEnvironmentVariable("ATTN_PROFILE")); } }
        set { ArgumentNullException.ThrowIfNull(value); lock (Gate) { _settings = value; } }
    }

    /// <summary>The default device.</summary>
    public static Device Device => Settings.Device;
    /// <summary>The default floating-point dtype.</summary>
    public static ScalarType DType => Settings.DType;
    /// <summary>The size profile.</summary>
    public static SizeProfile Profile => Settings.Profile;

    /// <summary>Resolves settings from the values of ATTN_DEVICE and ATTN_PROFILE (null or empty: automatic).</summary>
    public static KitSettings Resolve(string? device, string? profile)
    {
        NativeCompatibility.Ensure();
        var requested = string.IsNullOrWhiteSpace(device) ? "auto" : device.Trim().ToLowerInvariant();
        Device dev;
        string source;
        if (requested == "auto")
        {
            bool cuda = CudaAvailable(out _);
            dev = cuda ? torch.CUDA : torch.CPU;
            source = cuda ? "auto: CUDA is available" : "auto: no CUDA device, using the CPU";
        }
        else if (requested == "cpu")
        {
            (dev, source) = (torch.CPU, "ATTN_DEVICE=cpu");
        }
        else if (requested == "cuda" || requested.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!CudaAvailable(out var why))
                throw new InvalidOperationException($"ATTN_DEVICE={requested} forces CUDA, but it cannot be used: {why}");
            int index = requested == "cuda" ? 0 : int.TryParse(requested[5..], out var n) && n >= 0 ? n
                : throw new InvalidOperationException($"ATTN_DEVICE={requested}: expected cuda or cuda:N with N a device index");
            if (index >= torch.cuda.device_count())
                throw new InvalidOperationException($"ATTN_DEVICE={requested}: there are only {torch.cuda.device_count()} CUDA devices");
            (dev, source) = (new Device(DeviceType.CUDA, index), $"ATTN_DEVICE={requested}");
        }
        else
        {
            throw new InvalidOperationException($"ATTN_DEVICE={device}: expected auto, cpu, cuda or cuda:N");
        }

        var prof = (string.IsNullOrWhiteSpace(profile) ? "" : profile.Trim().ToLowerInvariant()) switch
        {
            "" => dev.type == DeviceType.CUDA ? SizeProfile.Full : SizeProfile.Quick,
            "quick" => SizeProfile.Quick,
            "full" => SizeProfile.Full,
            _ => throw new InvalidOperationException($"ATTN_PROFILE={profile}: expected quick or full"),
        };
        return new KitSettings(dev, ScalarType.Float32, prof, source);
    }

    /// <summary>Whether CUDA can be used, and if not, why.</summary>
    public static bool CudaAvailable(out string why)
    {
        NativeCompatibility.Ensure();
        try
        {
            // TorchSharp chooses its native backend on first use; ask for CUDA's first so a CUDA build binds it.
            if (!torch.TryInitializeDeviceType(DeviceType.CUDA))
            {
                why = "TorchSharp found no CUDA backend: the project references TorchSharp-cpu; reference TorchSharp-cuda-linux or TorchSharp-cuda-windows (same version), or run where PyTorch's CUDA libtorch is on the library path";
                return false;
            }
            if (!torch.cuda.is_available())
            {
                why = "a CUDA backend loaded but reports no usable device (driver missing, or no GPU visible: check nvidia-smi and CUDA_VISIBLE_DEVICES)";
                return false;
            }
            why = "";
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            why = $"loading the CUDA backend failed: {e.Message}";
            return false;
        }
    }

    /// <summary>
    /// Whether <paramref name="t"/> lives on <paramref name="device"/>. A device named without an index ("cuda") means the
    /// current one, index 0 here, while a tensor always reports its index, so comparing the indices alone would call
    /// cuda:0 another device than cuda.
    /// </summary>
    public static bool IsOn(Tensor t, Device device)
    {
        ArgumentNullException.ThrowIfNull(t);
        ArgumentNullException.ThrowIfNull(device);
        return t.device_type == device.type && Math.Max(t.device_index, 0) == Math.Max(device.index, 0);
    }

    /// <summary>Seeds TorchSharp's generators (CPU and every CUDA device) and returns a seeded .NET random for data generation.</summary>
    public static Random Seed(int seed)
    {
        torch.manual_seed(seed);
        if (Device.type == DeviceType.CUDA) torch.cuda.manual_seed_all(seed);
        return new Random(seed);
    }
}
