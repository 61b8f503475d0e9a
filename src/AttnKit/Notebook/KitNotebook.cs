using AttnKit.Core;
using AttnKit.Core.Native;

namespace AttnKit.Notebook;

/// <summary>The one setup call at the top of every notebook.</summary>
public static class KitNotebook
{
    /// <summary>
    /// Registers the kit's display formatters, resolves the device (CUDA when available; ATTN_DEVICE=cpu|cuda forces
    /// one) and the size profile, and prints one line saying which, so every notebook's output records where it ran.
    /// </summary>
    /// <returns>The settings in force.</returns>
    public static KitSettings Setup()
    {
        NativeCompatibility.Ensure();
        KitFormatters.Register();
        var settings = Kit.Settings;
        var compat = NativeCompatibility.Report;
        Console.WriteLine($"AttnKit: device {settings.Device} ({settings.DeviceSource}), profile {settings.Profile.ToString().ToLowerInvariant()}"
                          + (compat.Applied ? "; TorchSharp loaded through the Linux compatibility step" : ""));
        return settings;
    }
}
