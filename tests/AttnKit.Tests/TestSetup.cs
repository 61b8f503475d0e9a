using System.Runtime.CompilerServices;
using AttnKit.Core.Native;

namespace AttnKit.Tests;

internal static class TestSetup
{
    /// <summary>Before any test touches TorchSharp: the Linux compatibility step (it also runs when AttnKit loads).</summary>
    [ModuleInitializer]
    internal static void Init() => NativeCompatibility.Ensure();
}
