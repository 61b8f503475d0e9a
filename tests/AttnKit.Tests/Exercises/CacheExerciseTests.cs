using AttnKit.Exercises;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Exercises;

[Collection(GradeChannelCollection.Name)]
public class CacheExerciseTests
{
    static Tensor RightKeep(long length, long sinks, long window)
    {
        var p = torch.arange(length);
        return p.lt(sinks).logical_or(p.ge(length - window));
    }

    [Fact]
    public void The_reference_keep_set_passes_and_an_off_by_one_window_fails()
    {
        var r = Exercise.Check("cache.streaming-keep", RightKeep);
        Assert.True(r.Passed, r.ToText());
        var wrong = Exercise.Check("cache.streaming-keep", (long l, long s, long w) => RightKeep(l, s, w + 1));
        Assert.False(wrong.Passed);
    }

    [Fact]
    public void The_L2_score_passes_and_the_positive_norm_fails()
    {
        Assert.True(Exercise.Check("cache.l2-score", k => k.norm(-1, false, 2).neg()).Passed);
        Assert.False(Exercise.Check("cache.l2-score", k => k.norm(-1, false, 2)).Passed);
    }
}
