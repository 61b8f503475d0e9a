using AttnKit.Exercises;
using AttnKit.Tests.Exercises;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Foundations;

/// <summary>The foundations notebook's exercises: a right answer written from the equations passes, a plausible mistake fails.</summary>
[Collection(GradeChannelCollection.Name)]
public class FoundationsExerciseTests
{
    static Tensor Additive(Tensor q, Tensor k, Tensor wq, Tensor wk, Tensor v) =>
        torch.matmul((torch.matmul(q, wq).unsqueeze(3) + torch.matmul(k, wk).unsqueeze(2)).tanh(), v);

    static Tensor LocalP(Tensor scores, Tensor z, long halfWidth, bool renormalise)
    {
        long s = scores.shape[3];
        var p = (z.sigmoid() * (s - 1)).unsqueeze(-1);                              // (B, H, Nq, 1)
        var distance = torch.arange(s, device: scores.device).to(ScalarType.Float32) - p;
        var masked = scores.masked_fill(distance.abs().gt(halfWidth), double.NegativeInfinity).softmax(-1);
        var w = masked * (-(distance * distance) / (2 * Math.Pow(halfWidth / 2.0, 2))).exp();
        return renormalise ? w / w.sum(-1, keepdim: true) : w;
    }

    [Fact]
    public void Right_answers_pass()
    {
        var additive = Exercise.Check("foundations.additive-scores", (Func<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>)Additive);
        Assert.True(additive.Passed, additive.ToText());
        var local = Exercise.Check("foundations.local-p-weights", (Func<Tensor, Tensor, long, Tensor>)((scores, z, d) => LocalP(scores, z, d, false)));
        Assert.True(local.Passed, local.ToText());
    }

    [Fact]
    public void Plausible_mistakes_fail()
    {
        Assert.False(Exercise.Check("foundations.additive-scores", (Func<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>)((q, k, wq, wk, v) => torch.matmul(torch.matmul(q, wq).unsqueeze(3) + torch.matmul(k, wk).unsqueeze(2), v))).Passed, "no tanh");
        Assert.False(Exercise.Check("foundations.local-p-weights", (Func<Tensor, Tensor, long, Tensor>)((scores, z, d) => LocalP(scores, z, d, true))).Passed, "renormalised after the Gaussian");
        Assert.False(Exercise.Check("foundations.local-p-weights", (Func<Tensor, Tensor, long, Tensor>)((scores, z, d) => LocalP(scores, z, 2 * d, false))).Passed, "σ = D instead of D/2");
    }
}
