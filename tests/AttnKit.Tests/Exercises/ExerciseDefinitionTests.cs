using AttnKit.Attention.Masks;
using AttnKit.Exercises;
using static TorchSharp.torch;

namespace AttnKit.Tests.Exercises;

/// <summary>Registering exercises: every field is checked, ids are unique, and the built-ins are there.</summary>
public class ExerciseDefinitionTests
{
    static ExerciseDefinition Valid(string id) => new()
    {
        Id = id,
        Title = "A test exercise",
        Points = 1,
        Parameters = [new("n", typeof(long))],
        Reference = args => Masks.Causal.ToMatrix((long)args[0], (long)args[0]),
        PublicCases = [new ExerciseCase(3L)],
        RandomCases = random => [new ExerciseCase((long)random.Next(1, 5))],
    };

    [Fact]
    public void The_built_in_exercises_are_registered()
    {
        var ids = Exercise.All.Select(e => e.Id).ToArray();
        Assert.Contains("masks.causal", ids);
        Assert.Contains("attention.sdpa", ids);
        Assert.Contains("attention.softmax-weights", ids);
        Assert.Equal("(long queries, long keys) → Tensor", Exercise.Get("masks.causal").SignatureText);
    }

    [Fact]
    public void A_registered_exercise_can_be_checked_and_not_replaced()
    {
        var id = "tests.registered-" + Guid.NewGuid().ToString("N")[..8];
        Exercise.Register(Valid(id));
        Assert.True(Exercise.Check(id, (Func<long, Tensor>)(n => Masks.Causal.ToMatrix(n, n))).Passed);
        var e = Assert.Throws<ArgumentException>(() => Exercise.Register(Valid(id)));
        Assert.Contains("already registered", e.Message);
    }

    public static TheoryData<string, string> BadDefinitions => new()
    {
        { "bad id", "expected lower-case words" },
        { "no points", "Points: expected a positive number" },
        { "no public case", "expected at least one public case" },
        { "wrong arity", "a case has 2 arguments, the function 1 parameters" },
        { "wrong argument type", "argument n is a Double, expected Int64" },
        { "bad parameter type", "expected type long, double, bool or Tensor, got String" },
    };

    [Theory]
    [MemberData(nameof(BadDefinitions))]
    public void Bad_definitions_throw_ArgumentException_naming_the_problem(string what, string message)
    {
        var d = Valid("tests.bad-" + Guid.NewGuid().ToString("N")[..8]);
        d = what switch
        {
            "bad id" => d with { Id = "Masks Causal" },
            "no points" => d with { Points = 0 },
            "no public case" => d with { PublicCases = [] },
            "wrong arity" => d with { PublicCases = [new ExerciseCase(1L, 2L)] },
            "wrong argument type" => d with { PublicCases = [new ExerciseCase(1.5)] },
            "bad parameter type" => d with { Parameters = [new("n", typeof(string))] },
            _ => throw new ArgumentException(what),
        };
        var e = Assert.Throws<ArgumentException>(() => Exercise.Register(d));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Cases_hold_only_numbers_and_random_tensors()
    {
        Assert.Throws<ArgumentException>(() => new ExerciseCase(new object[] { "text" }));
        Assert.Throws<ArgumentException>(() => new RandomTensor([2, 0], 1));
        var t = new RandomTensor([2, 3], 9, 30);
        Assert.Equal("30 × randn(2, 3; seed 9)", t.ToString());
        using var a = t.Create(CPU);
        using var b = t.Create(CPU);
        Assert.True(a.eq(b).all().item<bool>(), "the same seed gives the same values in any process");
    }
}
