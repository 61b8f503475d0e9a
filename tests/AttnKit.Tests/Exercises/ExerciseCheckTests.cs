using AttnKit.Attention;
using AttnKit.Attention.Masks;
using AttnKit.Core;
using AttnKit.Exercises;
using AttnKit.Notebook;
using Microsoft.DotNet.Interactive.Formatting;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Exercises;

/// <summary>Exercise.Check on right and wrong solutions: the points, and the hint each kind of mistake gets.</summary>
[Collection(GradeChannelCollection.Name)] // reads ATTN_GRADE_SEED and ATTN_GRADE_RESULTS, which one test of the collection sets
public class ExerciseCheckTests
{
    static Tensor RightMask(long queries, long keys) =>
        torch.arange(keys - queries, keys).view(queries, 1).ge(torch.arange(keys).view(1, keys)); // (Nq, 1) ≥ (1, Nk)

    static Tensor RightAttention(Tensor q, Tensor k, Tensor v) =>
        torch.matmul(q, k.transpose(-2, -1)).div(Math.Sqrt(q.shape[^1])).softmax(-1).matmul(v);

    static CaseOutcome Public(CheckResult r, int number) => Assert.Single(r.Cases, c => c.Number == number && !c.Hidden);

    [Fact]
    public void A_right_causal_mask_passes_every_case()
    {
        var r = Exercise.Check("masks.causal", RightMask);
        Assert.True(r.Passed, r.ToText());
        Assert.Equal(2, r.Points);
        Assert.Equal(2, r.MaxPoints);
        Assert.True(r.Cases.Count(c => c.Hidden) >= 8, "edge cases and random shapes are hidden cases");
        Assert.Equal("queries = 3, keys = 5 (more keys than queries: the queries are the last tokens)", Public(r, 2).Inputs);
    }

    [Fact]
    public void A_right_attention_passes_every_case_and_so_does_the_library_call()
    {
        var attention = Exercise.Check("attention.sdpa", RightAttention);
        Assert.True(attention.Passed);
        Assert.Equal("q = randn(1, 1, 3, 4; seed 31), k = randn(1, 1, 3, 4; seed 32), v = randn(1, 1, 3, 4; seed 33)", Public(attention, 1).Inputs);
        Assert.StartsWith("q (1, 1, 3, 4) = [", Public(attention, 1).Values); // small inputs are listed in full
        Assert.True(Exercise.Check("attention.sdpa", (q, k, v) => ScaledDotProductAttention.Fused(q, k, v, new AttentionOptions { QueryOffset = 0 })).Passed);
        var weights = Exercise.Check("attention.softmax-weights", (q, k) => torch.matmul(q, k.transpose(-2, -1)).div(Math.Sqrt(q.shape[^1])).softmax(-1));
        Assert.True(weights.Passed, weights.ToText());
    }

    [Fact]
    public void A_transposed_mask_gets_a_shape_hint()
    {
        var r = Exercise.Check("masks.causal", (queries, keys) => RightMask(queries, keys).t());
        Assert.Equal("shape: expected (3, 5), got (5, 3)", Public(r, 2).Hint);
        Assert.StartsWith("values differ at [0, 1]: expected false, got true", Public(r, 1).Hint); // square: the right shape, the wrong triangle
        Assert.False(r.Passed);
    }

    [Fact]
    public void A_top_left_aligned_mask_passes_square_cases_and_gets_the_first_differing_index()
    {
        var r = Exercise.Check("masks.causal", (queries, keys) => torch.ones(queries, keys, ScalarType.Bool).tril());
        Assert.True(Public(r, 1).Passed);
        Assert.Equal("values differ at [0, 1]: expected true, got false (6 of 15 values differ)", Public(r, 2).Hint);
        Assert.InRange(r.Points, 0.01, 1.99); // partial marks: each case is worth an equal share
        Assert.Equal(Math.Round(2.0 * r.PassedCount / r.Cases.Count, 2), r.Points);
    }

    [Fact]
    public void A_float_mask_gets_a_dtype_hint()
    {
        var r = Exercise.Check("masks.causal", (queries, keys) => RightMask(queries, keys).to(ScalarType.Float32));
        Assert.StartsWith("dtype: expected Bool, got Float32", Public(r, 1).Hint);
        Assert.Equal(0, r.Points);
    }

    [Fact]
    public void NaN_is_reported_with_where_it_is()
    {
        var r = Exercise.Check("attention.sdpa", (q, k, v) => RightAttention(q, k, v) * double.NaN);
        Assert.Equal("NaN present: 12 of 12 values, first at [0, 0, 0, 0]", Public(r, 1).Hint);
    }

    [Fact]
    public void A_softmax_without_the_max_shift_fails_only_the_hidden_large_score_case()
    {
        var r = Exercise.Check("attention.sdpa", (q, k, v) =>
        {
            var e = torch.matmul(q, k.transpose(-2, -1)).div(Math.Sqrt(q.shape[^1])).exp(); // overflows for large scores
            return (e / e.sum(-1, keepdim: true)).matmul(v);
        });
        var failed = Assert.Single(r.Cases, c => !c.Passed);
        Assert.True(failed.Hidden);
        Assert.Null(failed.Inputs);
        Assert.Null(failed.Hint); // hidden cases say only pass or fail
        Assert.Equal(Math.Round(3.0 * (r.Cases.Count - 1) / r.Cases.Count, 2), r.Points);
        Assert.Contains($"hidden case {failed.Number} failed", r.Summary);
    }

    [Fact]
    public void The_students_exceptions_are_failed_cases_not_crashes()
    {
        var r = Exercise.Check("masks.causal", (long queries, long keys) => throw new InvalidOperationException("boom"));
        Assert.All(r.Cases, c => Assert.False(c.Passed));
        Assert.Equal("threw InvalidOperationException: boom", Public(r, 1).Hint);
        Assert.Equal(0, r.Points);
        var ex = Assert.Throws<ExerciseFailedException>(r.ThrowIfFailed);
        Assert.Contains("case 1: threw InvalidOperationException: boom", ex.Message);

        var stub = Exercise.Check("attention.sdpa", (Tensor q, Tensor k, Tensor v) => throw new NotImplementedException());
        Assert.StartsWith("threw NotImplementedException", Public(stub, 1).Hint);
    }

    [Fact]
    public void Null_results_and_wrong_signatures_are_failed_cases()
    {
        Assert.Equal("returned null instead of a tensor", Public(Exercise.Check("masks.causal", (Func<long, long, Tensor>)((q, k) => null!)), 1).Hint);
        var wrong = Exercise.Check("masks.causal", (Func<Tensor, Tensor>)(t => t));
        Assert.Equal("the function takes (Tensor) → Tensor; expected (long queries, long keys) → Tensor", Public(wrong, 1).Hint);
        // int parameters are fine: the numbers are converted
        Assert.True(Exercise.Check("masks.causal", (Func<int, int, Tensor>)((q, k) => RightMask(q, k))).Passed);
    }

    [Fact]
    public void A_student_who_changes_the_inputs_does_not_change_the_reference()
    {
        var r = Exercise.Check("attention.sdpa", (q, k, v) => { var o = RightAttention(q, k, v); q.zero_(); v.zero_(); return o; });
        Assert.True(r.Passed, r.ToText());
    }

    [Fact]
    public void A_check_leaves_no_tensor_alive()
    {
        Assert.Equal(0, LiveTensors.LeftAliveBy(() => Exercise.Check("attention.sdpa", RightAttention)));
        Assert.Equal(0, LiveTensors.LeftAliveBy(() => Exercise.Check("masks.causal", (long q, long k) => throw new InvalidOperationException())));
    }

    [Fact]
    public void It_displays_as_a_table_and_as_text()
    {
        KitFormatters.Register();
        var r = Exercise.Check("masks.causal", (queries, keys) => torch.ones(queries, keys, ScalarType.Bool).tril());
        var html = r.ToDisplayString(HtmlFormatter.MimeType);
        Assert.Contains("<table class=\"attn-check-table\"", html);
        Assert.Contains("queries = 3, keys = 5", html);
        Assert.Contains("values differ at [0, 1]", html);
        Assert.Contains("<i>hidden</i>", html);
        var text = r.ToDisplayString(PlainTextFormatter.MimeType);
        Assert.StartsWith("Build the causal mask (masks.causal): ", text);
        Assert.Contains("FAIL   2  queries = 3, keys = 5", text);
        Assert.Contains("hidden case", text);
    }

    [Fact]
    public void Bad_calls_throw_ArgumentException_naming_the_problem()
    {
        var e = Assert.Throws<ArgumentException>(() => Exercise.Check("masks.nope", RightMask));
        Assert.Contains("no exercise \"masks.nope\"", e.Message);
        Assert.Contains("masks.causal", e.Message);
        Assert.Throws<ArgumentNullException>(() => Exercise.Check("masks.causal", (Delegate)null!));
        Assert.Throws<ArgumentException>(() => Exercise.Check("", RightMask));
    }

    [Fact]
    public void The_reference_is_the_librarys()
    {
        var m = Masks.Causal.ToMatrix(3, 5);
        Assert.True(T.Bools(RightMask(3, 5)).SequenceEqual(T.Bools(m)));
    }
}
