using System.Runtime.CompilerServices;
using AttnKit.Core;
using AttnKit.Core.Native;

namespace AttnKit.Tests;

internal static class TestSetup
{
    /// <summary>
    /// Before any test touches TorchSharp: the Linux compatibility step (it also runs when AttnKit loads), then the
    /// kit's settings, whose device resolution asks for the CUDA backend before the first tensor (ATTN_DEVICE=cuda
    /// runs the whole suite on the GPU).
    /// </summary>
    [ModuleInitializer]
    internal static void Init()
    {
        NativeCompatibility.Ensure();
        _ = Kit.Settings;
    }
}
