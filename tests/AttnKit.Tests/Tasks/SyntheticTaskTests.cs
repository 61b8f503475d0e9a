using AttnKit.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Tests.Tasks;

public class SyntheticTaskTests
{
    public static TheoryData<string> Names => ["mqar", "passkey", "passkey-depth", "copy", "induction", "dyck", "previous-token"];

    internal static ISyntheticTask Make(string name) => name switch
    {
        "mqar" => new MultiQueryAssociativeRecall(pairs: 4, sequenceLength: 32, vocabSize: 40),
        "passkey" => new PasskeyRetrieval(sequenceLength: 48, depth: null, digits: 4, vocabSize: 20),
        "passkey-depth" => new PasskeyRetrieval(sequenceLength: 48, depth: 0.5, digits: 4, vocabSize: 20),
        "copy" => new Copying(length: 10, vocabSize: 24),
        "induction" => new InductionHeads(length: 6, sequenceLength: 30, vocabSize: 30),
        "dyck" => new DyckLanguage(types: 3, maxDepth: 4, sequenceLength: 24),
        "previous-token" => new PreviousToken(sequenceLength: 20, vocabSize: 25),
        _ => throw new ArgumentException(name),
    };

    /// <summary>What a uniform guess scores: 1/V, or 1/k among the closing brackets of Dyck.</summary>
    private static double Chance(ISyntheticTask task) => task is DyckLanguage d ? 1.0 / d.Types : 1.0 / task.VocabSize;

    [Theory]
    [MemberData(nameof(Names))]
    public void Batches_have_the_shapes_and_ranges_the_metric_expects(string name)
    {
        var task = Make(name);
        using var scope = torch.NewDisposeScope();
        using var batch = task.Sample(7, seed: 3, T.Dev);
        Assert.Equal([7L, task.SequenceLength], batch.Inputs.shape);
        Assert.Equal([7L, task.SequenceLength], batch.Targets.shape);
        Assert.Equal(ScalarType.Int64, batch.Inputs.dtype);
        Assert.Equal(ScalarType.Int64, batch.Targets.dtype);
        Assert.True(batch.Inputs.min().item<long>() >= 0 && batch.Inputs.max().item<long>() < task.VocabSize);
        var t = batch.Targets;
        Assert.True(t.eq(SyntheticTasks.Ignore).logical_or(t.ge(0).logical_and(t.lt(task.VocabSize))).all().item<bool>());
        Assert.True(t.ne(SyntheticTasks.Ignore).sum().item<long>() > 0, "some positions are scored");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void An_oracle_scores_one_and_a_uniform_guess_scores_about_chance(string name)
    {
        var task = Make(name);
        using var scope = torch.NewDisposeScope();
        using var batch = task.Sample(512, seed: 5, T.Dev);
        var oracle = nn.functional.one_hot(batch.Targets.clamp_min(0), task.VocabSize).to(ScalarType.Float32);  // (B, N, V) from the batch's own answers
        Assert.Equal(1.0, task.Score(oracle, batch));
        var guess = torch.randn(new[] { 512L, task.SequenceLength, task.VocabSize }, generator: new Generator(9)).to(T.Dev);
        double chance = Chance(task), score = task.Score(guess, batch);
        Assert.InRange(score, chance * 0.7, chance * 1.3 + 0.01);
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void The_same_seed_gives_the_same_batch_and_another_seed_another(string name)
    {
        var task = Make(name);
        using var scope = torch.NewDisposeScope();
        using var a = task.Sample(6, seed: 11, T.Dev);
        using var b = task.Sample(6, seed: 11, T.Dev);
        using var c = task.Sample(6, seed: 12, T.Dev);
        Assert.True(a.Inputs.eq(b.Inputs).all().item<bool>() && a.Targets.eq(b.Targets).all().item<bool>());
        Assert.False(a.Inputs.eq(c.Inputs).all().item<bool>());
    }

    [Fact]
    public void Mqar_queries_ask_for_the_value_paired_with_their_key()
    {
        var task = new MultiQueryAssociativeRecall(pairs: 5, sequenceLength: 40, vocabSize: 64);
        using var scope = torch.NewDisposeScope();
        using var batch = task.Sample(20, seed: 1, T.Dev);
        var inputs = batch.Inputs.cpu().data<long>().ToArray();
        var targets = batch.Targets.cpu().data<long>().ToArray();
        for (int r = 0; r < 20; r++)
        {
            var row = inputs.Skip(r * 40).Take(40).ToArray();
            var pairs = Enumerable.Range(0, 5).ToDictionary(i => row[2 * i], i => row[2 * i + 1]);       // keys are distinct
            Assert.All(pairs.Keys, k => Assert.InRange(k, 1, task.Keys));
            Assert.All(pairs.Values, v => Assert.InRange(v, task.Keys + 1, 63));
            var queries = Enumerable.Range(10, 30).Where(i => targets[r * 40 + i] != SyntheticTasks.Ignore).ToList();
            Assert.Equal(5, queries.Count);
            Assert.Equal(pairs.Keys.Order(), queries.Select(i => row[i]).Order());                       // each key queried once
            foreach (var i in queries)
            {
                Assert.Equal(pairs[row[i]], targets[r * 40 + i]);
                Assert.Equal(pairs[row[i]], row[i + 1]);
            }
            Assert.All(Enumerable.Range(10, 30).Where(i => !queries.Contains(i) && !queries.Contains(i - 1)), i => Assert.Equal(0, row[i]));
        }
    }

    [Fact]
    public void The_passkey_at_the_end_is_the_one_hidden_at_the_depth()
    {
        var task = new PasskeyRetrieval(sequenceLength: 40, depth: 0.25, digits: 3, vocabSize: 16);
        using var scope = torch.NewDisposeScope();
        using var batch = task.Sample(4, seed: 2, T.Dev);
        var row = batch.Inputs[1].cpu().data<long>().ToArray();
        int at = (int)Math.Round(0.25 * task.Room);
        Assert.Equal(PasskeyRetrieval.KeyMarker, row[at]);
        Assert.Equal(PasskeyRetrieval.Question, row[40 - 4]);
        Assert.Equal(row[(at + 1)..(at + 4)], row[37..40]);
        Assert.All(row[(at + 1)..(at + 4)], d => Assert.InRange(d, 0, 9));
        Assert.Equal(row[37..40], batch.Targets[1].cpu().data<long>().ToArray()[36..39]);
        Assert.True(row.Where((_, i) => i < at || (i > at + 3 && i < 36)).All(t => t >= PasskeyRetrieval.FirstFiller), "filler elsewhere");
    }

    [Fact]
    public void Copy_and_induction_repeat_the_first_half_and_score_the_second()
    {
        using var scope = torch.NewDisposeScope();
        using var copy = new Copying(length: 6, vocabSize: 10).Sample(3, seed: 4, T.Dev);
        var c = copy.Inputs[0].cpu().data<long>().ToArray();
        Assert.Equal(c[..6], c[7..]);
        Assert.Equal(Copying.Separator, c[6]);
        Assert.Equal(c[..6], copy.Targets[0].cpu().data<long>().ToArray()[6..12]);
        using var fixedOffset = new InductionHeads(length: 8, sequenceLength: 16, vocabSize: 8).Sample(3, seed: 4, T.Dev);
        var x = fixedOffset.Inputs[2].cpu().data<long>().ToArray();
        Assert.Equal(x[..8], x[8..]);
        Assert.Equal(8, x[..8].Distinct().Count());
        var t = fixedOffset.Targets[2].cpu().data<long>().ToArray();
        Assert.All(t[..8], v => Assert.Equal(SyntheticTasks.Ignore, v));
        Assert.Equal(x[9..], t[8..15]);
        Assert.Equal(SyntheticTasks.Ignore, t[15]);
    }

    [Fact]
    public void Induction_segments_occur_twice_at_varying_places_among_other_tokens()
    {
        using var scope = torch.NewDisposeScope();
        using var batch = new InductionHeads(length: 5, sequenceLength: 24, vocabSize: 20).Sample(200, seed: 6, T.Dev);
        var inputs = batch.Inputs.cpu().data<long>().ToArray();
        var targets = batch.Targets.cpu().data<long>().ToArray();
        var distances = new HashSet<int>();
        for (int r = 0; r < 200; r++)
        {
            var row = inputs[(r * 24)..(r * 24 + 24)];
            var scored = Enumerable.Range(0, 24).Where(i => targets[r * 24 + i] != SyntheticTasks.Ignore).ToArray();
            Assert.Equal(4, scored.Length);
            int b = scored[0];
            var segment = row[b..(b + 5)];
            var starts = Enumerable.Range(0, 20).Where(i => row[i..(i + 5)].SequenceEqual(segment)).ToArray();
            Assert.Equal(2, starts.Length);                                                              // twice, nowhere else
            Assert.Equal(b, starts[1]);
            Assert.True(starts[1] - starts[0] >= 5);
            distances.Add(starts[1] - starts[0]);
            Assert.Equal(5, row.Count(segment.Contains) / 2);                                            // filler never uses a segment token
            for (int j = 0; j < 4; j++) Assert.Equal(segment[j + 1], targets[r * 24 + b + j]);
        }
        Assert.True(distances.Count > 5, "the offset between the occurrences varies");
    }

    [Fact]
    public void Previous_token_targets_echo_the_token_before()
    {
        using var scope = torch.NewDisposeScope();
        using var batch = new PreviousToken(sequenceLength: 10, vocabSize: 7).Sample(3, seed: 1, T.Dev);
        var x = batch.Inputs[1].cpu().data<long>().ToArray();
        var t = batch.Targets[1].cpu().data<long>().ToArray();
        Assert.Equal(SyntheticTasks.Ignore, t[0]);
        Assert.Equal(x[..9], t[1..]);
        using var sparse = new PreviousToken(sequenceLength: 10, vocabSize: 7, scoredPerRow: 3).Sample(50, seed: 1, T.Dev);
        Assert.True(sparse.Targets.ne(SyntheticTasks.Ignore).sum(1).eq(3).all().item<bool>(), "three scored positions per row");
        Assert.Equal(0L, sparse.Targets.select(1, 0).ne(SyntheticTasks.Ignore).sum().item<long>());
        var scored = sparse.Targets.ne(SyntheticTasks.Ignore);
        Assert.True(sparse.Targets.narrow(1, 1, 9).eq(sparse.Inputs.narrow(1, 0, 9)).logical_or(scored.narrow(1, 1, 9).logical_not()).all().item<bool>());
    }

    [Fact]
    public void Dyck_strings_are_balanced_within_the_depth_and_close_the_innermost_bracket()
    {
        var task = new DyckLanguage(types: 3, maxDepth: 3, sequenceLength: 30);
        using var scope = torch.NewDisposeScope();
        using var batch = task.Sample(50, seed: 8, T.Dev);
        var all = batch.Inputs.cpu().data<long>().ToArray();
        for (int r = 0; r < 50; r++)
        {
            var stack = new Stack<long>();
            foreach (var tok in all.Skip(r * 30).Take(30))
            {
                if (tok < 3) { stack.Push(tok); Assert.True(stack.Count <= 3, "depth ≤ m"); }
                else Assert.Equal(stack.Pop() + 3, tok);
            }
            Assert.Empty(stack);
        }
    }

    [Fact]
    public void A_mixture_splits_the_batch_into_equal_shares_of_its_tasks()
    {
        var copy = new Copying(length: 5, vocabSize: 14);
        var induction = new InductionHeads(length: 5, sequenceLength: 11, vocabSize: 14);
        var mix = new TaskMixture(copy, new PasskeyRetrieval(sequenceLength: 11, digits: 2, vocabSize: 14), induction);
        using var scope = torch.NewDisposeScope();
        using var batch = mix.Sample(7, seed: 2, T.Dev);
        Assert.Equal([7L, 11], batch.Inputs.shape);
        var rows = batch.Inputs.cpu().data<long>().ToArray();
        Assert.Equal(Copying.Separator, rows[5]);                                                       // rows 0–1 copy
        Assert.Equal(PasskeyRetrieval.Question, rows[2 * 11 + 11 - 3]);                                 // rows 2–3 passkey (shares 2, 2, 3)
        var oracle = nn.functional.one_hot(batch.Targets.clamp_min(0), 14).to(ScalarType.Float32);
        Assert.Equal(1.0, mix.Score(oracle, batch));
        Assert.Contains("vocabulary", Assert.Throws<ArgumentException>(() => new TaskMixture(copy, new Copying(length: 5, vocabSize: 15))).Message);
        Assert.Throws<ArgumentException>(() => new TaskMixture());
    }

    [Fact]
    public void Bad_parameters_and_calls_throw_argument_exceptions()
    {
        Assert.Throws<ArgumentException>(() => new MultiQueryAssociativeRecall(pairs: 0));
        Assert.Contains("vocabSize", Assert.Throws<ArgumentException>(() => new MultiQueryAssociativeRecall(pairs: 8, vocabSize: 12)).Message);
        Assert.Contains("sequenceLength", Assert.Throws<ArgumentException>(() => new MultiQueryAssociativeRecall(pairs: 8, sequenceLength: 20)).Message);
        Assert.Contains("depth", Assert.Throws<ArgumentException>(() => new PasskeyRetrieval(depth: 1.5)).Message);
        Assert.Contains("sequenceLength", Assert.Throws<ArgumentException>(() => new PasskeyRetrieval(sequenceLength: 8, digits: 5)).Message);
        Assert.Contains("vocabSize", Assert.Throws<ArgumentException>(() => new PasskeyRetrieval(vocabSize: 12)).Message);
        Assert.Throws<ArgumentException>(() => new Copying(length: 0));
        Assert.Contains("vocabSize", Assert.Throws<ArgumentException>(() => new InductionHeads(length: 10, sequenceLength: 24, vocabSize: 10)).Message);
        Assert.Contains("sequenceLength", Assert.Throws<ArgumentException>(() => new InductionHeads(length: 10, sequenceLength: 19)).Message);
        Assert.Contains("even", Assert.Throws<ArgumentException>(() => new DyckLanguage(sequenceLength: 31)).Message);
        Assert.Throws<ArgumentException>(() => new DyckLanguage(types: 0));
        Assert.Contains("sequenceLength", Assert.Throws<ArgumentException>(() => new PreviousToken(sequenceLength: 1)).Message);
        Assert.Contains("scoredPerRow", Assert.Throws<ArgumentException>(() => new PreviousToken(sequenceLength: 5, scoredPerRow: 5)).Message);
        Assert.Throws<ArgumentException>(() => new InContextRegression(dim: 0));
        Assert.Throws<ArgumentException>(() => new InContextRegression(noise: double.NaN));
        var task = new Copying(length: 4, vocabSize: 10);
        using var scope = torch.NewDisposeScope();
        Assert.Contains("batch", Assert.Throws<ArgumentException>(() => task.Sample(0, seed: 1, T.Dev)).Message);
        using var batch = task.Sample(2, seed: 1, T.Dev);
        Assert.Contains("V = 10", Assert.Throws<ArgumentException>(() => task.Score(torch.zeros(2, 9, 11, device: T.Dev), batch)).Message);
        Assert.Contains("(B, N, V)", Assert.Throws<ArgumentException>(() => task.Score(torch.zeros(2, 9, device: T.Dev), batch)).Message);
        Assert.Contains("tokens N", Assert.Throws<ArgumentException>(() => task.Score(torch.zeros(2, 8, 10, device: T.Dev), batch)).Message);
    }
}

public class InContextRegressionTests
{
    [Fact]
    public void Least_squares_fits_noiseless_examples_and_a_zero_guess_scores_about_one()
    {
        var task = new InContextRegression(dim: 4, examples: 12, queries: 6);
        using var scope = torch.NewDisposeScope();
        using var batch = task.Sample(2000, seed: 1, T.Dev);
        Assert.Equal([2000L, 18, 5], batch.Inputs.shape);
        Assert.True(task.LeastSquaresError(batch) < 1e-6);
        Assert.Equal(0.0, task.Score(batch.Targets, batch));                                        // the oracle
        Assert.InRange(task.Score(torch.zeros(2000, 18, device: T.Dev), batch), 0.9, 1.1);             // y has unit variance
        Assert.Equal(0.0, batch.Inputs.narrow(1, 12, 6).select(2, 4).abs().sum().item<float>());       // queries carry no label
        T.Close(batch.Targets.narrow(1, 0, 12), batch.Inputs.narrow(1, 0, 12).select(2, 4), 0, "examples carry their label");
        using var again = task.Sample(2000, seed: 1, T.Dev);
        Assert.True(again.Inputs.eq(batch.Inputs).all().item<bool>());
    }

    [Fact]
    public void Examples_attend_causally_or_to_each_other_and_queries_only_to_examples()
    {
        var task = new InContextRegression(dim: 2, examples: 3, queries: 2);
        using var scope = torch.NewDisposeScope();
        Assert.Equal(T.Pattern(
            "1....",
            "11...",
            "111..",
            "111..",
            "111.."), T.Bools(task.CausalMask.ToMatrix(5, 5)));
        Assert.Equal(T.Pattern(
            "111..",
            "111..",
            "111..",
            "111..",
            "111.."), T.Bools(task.PrefixMask.ToMatrix(5, 5)));
    }
}
