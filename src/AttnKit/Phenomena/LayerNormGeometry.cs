using AttnKit.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace AttnKit.Phenomena;

/// <summary>What <see cref="LayerNormGeometry.Run"/> measured on random keys in R³.</summary>
/// <param name="Projected">The keys after the projection onto 1⊥, in 2-D coordinates of that plane (N, 2).</param>
/// <param name="Normalized">The keys after projection and scaling (LayerNorm without affine), same coordinates (N, 2).</param>
/// <param name="SelectableProjected">Per key: can some query give it the top score, after the projection only?</param>
/// <param name="SelectableNormalized">The same after the scaling too.</param>
/// <param name="UniformGapRaw">max_j |a_j − 1/N| for the query q = c·1 on the raw keys.</param>
/// <param name="UniformGapProjected">The same on the projected keys (0: the query attends to all keys equally).</param>
public sealed record LayerNormGeometryResult(double[,] Projected, double[,] Normalized, bool[] SelectableProjected, bool[] SelectableNormalized,
    double UniformGapRaw, double UniformGapProjected);

/// <summary>
/// LayerNorm's two geometric parts and what they do for attention. Brody, Alon and Yahav, "On the Expressivity Role
/// of LayerNorm in Transformers' Attention", 2023 (arXiv 2305.02582): LayerNorm without its affine part is
/// (a) a projection onto the hyperplane orthogonal to 1 = (1, …, 1), after which a query along 1 scores every key
/// equally (uniform attention is one vector away), then (b) a scaling of every vector to norm √d, after which every
/// key lies on a sphere, so every key is a vertex of their convex hull and wins the top score for some query: no key
/// is "unselectable" (a key strictly inside the hull of the others can never get the most attention).
/// 1. projection: x ↦ x − mean(x)·1;
/// 2. scaling: y ↦ √d·y/‖y‖; LN(x) = scaling(projection(x)) (up to LayerNorm's ε);
/// 3. selectable keys: a key wins argmax_j q·k_j for some q iff it is a vertex of the keys' convex hull (computed
///    exactly in the 2-D plane 1⊥ of R³ by the monotone chain);
/// 4. uniform attention: with q = c·1 the projected keys all score 0.
/// </summary>
public static class LayerNormGeometry
{
    /// <summary>Step 1: x (…, D) minus its mean over the last axis.</summary>
    public static Tensor Project(Tensor x)
    {
        Check.NotNull(x, nameof(x));
        Check.FloatingPoint(x, nameof(x));
        using var scope = torch.NewDisposeScope();
        return (x - x.mean([-1], keepdim: true)).MoveToOuterDisposeScope();             // 1.
    }

    /// <summary>Step 2: x (…, D) scaled to norm √D.</summary>
    public static Tensor Scale(Tensor x)
    {
        Check.NotNull(x, nameof(x));
        Check.FloatingPoint(x, nameof(x));
        using var scope = torch.NewDisposeScope();
        return (x * Math.Sqrt(x.shape[^1]) / x.norm(-1, keepdim: true).clamp_min(1e-12)).MoveToOuterDisposeScope(); // 2.
    }

    /// <summary>Steps 1–2: LayerNorm without affine parameters and without ε.</summary>
    public static Tensor Normalize(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return Scale(Project(x)).MoveToOuterDisposeScope();
    }

    /// <summary>Step 3 in 2-D: which points (N, 2) are vertices of their convex hull (monotone chain; collinear points are not).</summary>
    public static bool[] HullVertices(double[,] points)
    {
        ArgumentNullException.ThrowIfNull(points);
        if (points.GetLength(1) != 2) throw new ArgumentException($"{nameof(points)}: expected (N, 2), got (N, {points.GetLength(1)})", nameof(points));
        int n = points.GetLength(0);
        var result = new bool[n];
        if (n <= 2) { Array.Fill(result, true); return result; }
        var order = Enumerable.Range(0, n).OrderBy(i => points[i, 0]).ThenBy(i => points[i, 1]).ToArray();
        double Cross(int o, int a, int b) => (points[a, 0] - points[o, 0]) * (points[b, 1] - points[o, 1]) - (points[a, 1] - points[o, 1]) * (points[b, 0] - points[o, 0]);
        var hull = new List<int>();
        foreach (var pass in new[] { order, order.Reverse().ToArray() })
        {
            int start = hull.Count;
            foreach (var i in pass)
            {
                while (hull.Count >= start + 2 && Cross(hull[^2], hull[^1], i) <= 0) hull.RemoveAt(hull.Count - 1);
                hull.Add(i);
            }
            hull.RemoveAt(hull.Count - 1);
        }
        foreach (var i in hull) result[i] = true;                                      // 3.
        return result;
    }

    /// <summary>Steps 1–4 on <paramref name="keys"/> random Gaussian keys in R³ (shifted off the origin so the raw keys are not centred).</summary>
    public static LayerNormGeometryResult Run(int keys = 24, int seed = 0)
    {
        Check.Positive(keys, nameof(keys));
        using var scope = torch.NewDisposeScope();
        using var gen = new Generator((ulong)seed);
        var k = torch.randn([keys, 3], ScalarType.Float64, CPU, generator: gen) + torch.tensor(new[] { 2.0, 0.0, -1.0 }, ScalarType.Float64); // (N, 3)
        // an orthonormal basis of the plane 1⊥ in R³
        var basis = torch.tensor(new[,] { { 1 / Math.Sqrt(2), -1 / Math.Sqrt(2), 0 }, { 1 / Math.Sqrt(6), 1 / Math.Sqrt(6), -2 / Math.Sqrt(6) } }, ScalarType.Float64); // (2, 3)
        var projected = Project(k);
        var normalized = Scale(projected);
        double[,] Coords(Tensor t)
        {
            var c = torch.matmul(t, basis.t()).contiguous().data<double>().ToArray();    // (N, 2)
            var a = new double[keys, 2];
            for (int i = 0; i < keys; i++) (a[i, 0], a[i, 1]) = (c[2 * i], c[2 * i + 1]);
            return a;
        }
        var p2 = Coords(projected);
        var n2 = Coords(normalized);
        var q = torch.full(3, 2.0, ScalarType.Float64);                                 // q = c·1
        double Gap(Tensor kk) => (torch.matmul(kk, q).softmax(0) - 1.0 / keys).abs().max().item<double>();
        return new LayerNormGeometryResult(p2, n2, HullVertices(p2), HullVertices(n2), Gap(k), Gap(projected)); // 4.
    }
}
