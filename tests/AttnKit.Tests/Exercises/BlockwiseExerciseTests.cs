using AttnKit.Exercises;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Exercises;

/// <summary>The blockwise exercises: a right solution passes, the usual mistakes fail.</summary>
[Collection(GradeChannelCollection.Name)]
public class BlockwiseExerciseTests
{
    static Tensor RightUpdate(Tensor m, Tensor l, Tensor acc, Tensor s, Tensor v)
    {
        var mNew = torch.maximum(m, s.amax([-1], keepdim: true));
        var alpha = (m - mNew).exp();
        var p = (s - mNew).exp();
        return torch.cat([mNew, alpha * l + p.sum(-1, keepdim: true), alpha * acc + torch.matmul(p, v)], -1);
    }

    static Tensor RightMerge(Tensor o1, Tensor lse1, Tensor o2, Tensor lse2)
    {
        var m = torch.maximum(lse1, lse2);
        var (w1, w2) = ((lse1 - m).exp().unsqueeze(-1), (lse2 - m).exp().unsqueeze(-1));
        return (w1 * o1 + w2 * o2) / (w1 + w2);
    }

    [Fact]
    public void Right_solutions_pass_every_case()
    {
        var update = Exercise.Check("blockwise.online-softmax", (Func<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>)RightUpdate);
        Assert.True(update.Passed, update.ToText());
        Assert.True(update.Cases.Count(c => c.Hidden) >= 7);
        var merge = Exercise.Check("blockwise.lse-merge", (Func<Tensor, Tensor, Tensor, Tensor, Tensor>)RightMerge);
        Assert.True(merge.Passed, merge.ToText());
    }

    [Fact]
    public void Forgetting_to_rescale_the_accumulator_fails()
    {
        var r = Exercise.Check("blockwise.online-softmax", (Func<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>)((m, l, acc, s, v) =>
        {
            var mNew = torch.maximum(m, s.amax([-1], keepdim: true));
            var alpha = (m - mNew).exp();
            var p = (s - mNew).exp();
            return torch.cat([mNew, alpha * l + p.sum(-1, keepdim: true), acc + torch.matmul(p, v)], -1);   // acc not rescaled
        }));
        Assert.False(r.Passed);
    }

    [Fact]
    public void A_merge_through_exp_of_the_raw_log_sum_exps_fails_the_huge_case()
    {
        var r = Exercise.Check("blockwise.lse-merge", (Func<Tensor, Tensor, Tensor, Tensor, Tensor>)((o1, lse1, o2, lse2) =>
        {
            var (w1, w2) = (lse1.exp().unsqueeze(-1), lse2.exp().unsqueeze(-1));                              // overflows
            return (w1 * o1 + w2 * o2) / (w1 + w2);
        }));
        var failed = Assert.Single(r.Cases, c => !c.Passed);
        Assert.True(failed.Hidden);
    }
}
