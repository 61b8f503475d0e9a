using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Phenomena;

/// <summary>One configuration of <see cref="RankSeparation"/>: heads of a given rank and the error they reach.</summary>
/// <param name="Heads">The number of heads H.</param>
/// <param name="Rank">Each head's query/key rank r.</param>
/// <param name="Error">Test error E‖f(X) − x_nn‖² (the target has norm 1, so 1 is the error of answering 0).</param>
public sealed record RankSeparationPoint(int Heads, int Rank, double Error);

/// <summary>
/// Rank versus number of heads. Amsel, Yehudai and Bruna, "On the Benefits of Rank in Attention Layers", 2024
/// (arXiv 2407.16153), section 4: the nearest-neighbour target, which returns the key closest to the query, is one
/// full-rank head (W = βI, values the identity), yet heads of low query/key rank need many more heads to approximate it
/// (exponentially many in the dimension, in the paper's theorem). At notebook size the exponential is not visible; the
/// measurement shows the direction: for the same budget H·r = d, one full-rank head beats d rank-1 heads, and rank-1
/// heads improve only slowly as H grows past d.
/// 1. data: a query y and N keys x_1…x_N, random unit vectors in ℝ^d; the target is x_nn, nn = argmax_j ⟨y, x_j⟩;
/// 2. model: f(y, X) = Σ_h softmax(y A_h B_hᵀ Xᵀ) X U_h, with A_h, B_h (d, r) (a head of rank r) and U_h (d, d)
///    (its value-output map);
/// 3. fit by Adam on fresh batches, minimising the mean ‖f − x_nn‖²;
/// 4. report the error on a fixed test batch, for each (H, r).
/// Everything runs on the CPU, single-threaded: the models are far too small for a GPU or for threads to pay.
/// </summary>
public static class RankSeparation
{
    /// <summary>Step 1: a batch of queries (B, d), keys (B, N, d) and nearest-neighbour targets (B, d).</summary>
    public static (Tensor Query, Tensor Keys, Tensor Target) Batch(long batch, int keys, int dim, Generator? generator = null)
    {
        Check.Positive(batch, nameof(batch));
        Check.Positive(keys, nameof(keys));
        Check.Positive(dim, nameof(dim));
        using var scope = torch.NewDisposeScope();
        var y = nn.functional.normalize(torch.randn([batch, dim], generator: generator), dim: -1);       // 1. (B, d)
        var x = nn.functional.normalize(torch.randn([batch, keys, dim], generator: generator), dim: -1); //    (B, N, d)
        var nn_ = torch.matmul(x, y.unsqueeze(-1)).squeeze(-1).argmax(-1);                                 //    (B)
        var target = x.gather(1, nn_.view(batch, 1, 1).expand(batch, 1, dim)).squeeze(1);                  //    (B, d)
        return (y.MoveToOuterDisposeScope(), x.MoveToOuterDisposeScope(), target.MoveToOuterDisposeScope());
    }

    /// <summary>Step 2: the H-head, rank-r model: a (H, d, r), b (H, d, r), u (H, d, d); query (B, d), keys (B, N, d) → (B, d).</summary>
    public static Tensor Forward(Tensor a, Tensor b, Tensor u, Tensor query, Tensor keys)
    {
        Check.Rank(a, 3, nameof(a), "(H, d, r)");
        Check.Rank(b, 3, nameof(b), "(H, d, r)");
        Check.Rank(u, 3, nameof(u), "(H, d, d)");
        Check.Rank(query, 2, nameof(query), "(B, d)");
        Check.Rank(keys, 3, nameof(keys), "(B, N, d)");
        long d = query.shape[1];
        Check.Dim(a, 1, d, nameof(a), "d");
        Check.Dim(b.shape, 0, a.shape[0], nameof(b), "H like a");
        Check.Dim(b.shape, 1, d, nameof(b), "d");
        Check.Dim(b.shape, 2, a.shape[2], nameof(b), "r like a");
        Check.Dim(u.shape, 0, a.shape[0], nameof(u), "H like a");
        Check.Dim(keys, 2, d, nameof(keys), "d like the query");
        Check.Dim(keys, 0, query.shape[0], nameof(keys), "B like the query");
        using var scope = torch.NewDisposeScope();
        var qh = torch.einsum("bd,hdr->bhr", query, a);                 // 2. (B, H, r)
        var kh = torch.einsum("bnd,hdr->bhnr", keys, b);                //    (B, H, N, r)
        var p = torch.einsum("bhr,bhnr->bhn", qh, kh).softmax(-1);      //    (B, H, N)
        var read = torch.einsum("bhn,bnd->bhd", p, keys);               //    (B, H, d)
        return torch.einsum("bhd,hde->be", read, u).MoveToOuterDisposeScope(); // (B, d)
    }

    /// <summary>Steps 1–4 for each (heads, rank) pair, with <paramref name="keys"/> keys in dimension <paramref name="dim"/>.</summary>
    public static RankSeparationPoint[] Run((int Heads, int Rank)[] configs, int dim = 8, int keys = 6, int steps = 300, int batch = 128, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(configs);
        Check.Positive(dim, nameof(dim));
        Check.Positive(keys, nameof(keys));
        Check.Positive(steps, nameof(steps));
        Check.Positive(batch, nameof(batch));
        foreach (var (h, r) in configs)
        {
            Check.Positive(h, nameof(configs));
            if (r < 1 || r > dim) throw new ArgumentException($"{nameof(configs)}: expected ranks in 1…{dim}, got {r}", nameof(configs));
        }
        return SingleThreaded.Run(() =>
        {
            var result = new RankSeparationPoint[configs.Length];
            using var testGen = new Generator((ulong)(seed + 7919));
            var (ty, tx, tt) = Batch(1024, keys, dim, testGen);
            using (ty) using (tx) using (tt)
            {
                for (int i = 0; i < configs.Length; i++)
                {
                    var (h, r) = configs[i];
                    using var scope = torch.NewDisposeScope();
                    using var gen = new Generator((ulong)(seed * 100 + i));
                    var a = new TorchSharp.Modules.Parameter(torch.randn([h, dim, r], generator: gen) / Math.Sqrt(r));
                    var b = new TorchSharp.Modules.Parameter(torch.randn([h, dim, r], generator: gen) / Math.Sqrt(r));
                    var u = new TorchSharp.Modules.Parameter(torch.eye(dim).expand(h, dim, dim) / h + torch.randn([h, dim, dim], generator: gen) * 0.01);
                    using var opt = torch.optim.Adam([a, b, u], 0.02);
                    for (int step = 0; step < steps; step++)
                    {
                        using var inner = torch.NewDisposeScope();
                        var (y, x, t) = Batch(batch, keys, dim, gen);
                        var loss = (Forward(a, b, u, y, x) - t).square().sum(-1).mean();              // 3.
                        opt.zero_grad();
                        loss.backward();
                        opt.step();
                    }
                    using (torch.no_grad())
                        result[i] = new RankSeparationPoint(h, r, (Forward(a, b, u, ty, tx) - tt).square().sum(-1).mean().item<float>()); // 4.
                }
            }
            return result;
        });
    }
}
