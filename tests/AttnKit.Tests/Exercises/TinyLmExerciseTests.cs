using AttnKit.Exercises;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Exercises;

[Collection(GradeChannelCollection.Name)]
public class TinyLmExerciseTests
{
    [Fact]
    public void The_sink_share_reference_passes_and_wrong_answers_fail()
    {
        var right = Exercise.Check("probes.sink-share", w => w.narrow(2, 1, w.shape[2] - 1).select(3, 0).mean([0, 2]));
        Assert.True(right.Passed, right.ToText());
        var withQueryZero = Exercise.Check("probes.sink-share", w => w.select(3, 0).mean([0, 2]));              // counts query 0, which can only look at itself
        Assert.False(withQueryZero.Passed);
        var wrongAxis = Exercise.Check("probes.sink-share", w => w.narrow(3, 1, w.shape[3] - 1).select(2, 0).mean([0, 2])); // a row instead of a column
        Assert.False(wrongAxis.Passed);
    }
}
