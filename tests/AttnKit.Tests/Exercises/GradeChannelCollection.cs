namespace AttnKit.Tests.Exercises;

/// <summary>Tests that read or set the grade channel's environment variables run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GradeChannelCollection
{
    public const string Name = "grade channel";
}
