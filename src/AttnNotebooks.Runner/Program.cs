using AttnKit.Core.Native;
using TorchSharp;
var r = NativeCompatibility.Ensure();
Console.WriteLine(r);
var t = torch.ones(2, 3);
Console.WriteLine(t.sum().item<float>());
