namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>
/// Recent realised errors of the components of a <see cref="ForecastCombiner"/>, per horizon, as an exponentially weighted
/// second-moment matrix <c>S[i, j] = E[e_i·e_j]</c>, shared by the combiners of every key of a series (short keyed series
/// pool their evidence, as the LSTM's weights are shared); and the weights that minimise the combination's expected squared
/// error <c>w'Sw</c> over the simplex (w ≥ 0, Σw = 1).
/// </summary>
/// <remarks>
/// Minimum-variance weights use the covariance of the errors, not only their sizes: a component that is another one plus
/// noise (an LSTM or AR on a random walk, next to the last value) gets no weight, and one whose errors are independent of the
/// best one's still gets some (where the combination beats both). Inverse-MSE weights, their diagonal approximation, give
/// the noisy copy a third of the weight and fall behind the last value.
/// </remarks>
public sealed class CombinationWeights
{
    /// <summary>Errors of a component (per horizon, in its key) before it takes part.</summary>
    public const int MinErrors = 10;

    /// <summary>Memory of the error moments: α = 1/<see cref="Memory"/> (long, so rare large errors of spiky series are not forgotten between spikes).</summary>
    public const int Memory = 1024;

    /// <summary>Ridge added to the diagonal, relative to the mean diagonal (numerical conditioning only).</summary>
    public const double Ridge = 1e-6;

    /// <summary>Most components (the exact solver tries every support set).</summary>
    public const int MaxComponents = 12;

    private const double Alpha = 1.0 / Memory;
    private readonly int _n;
    private readonly double[] _sum;
    private readonly double[] _weight;
    private readonly int[] _count;
    private readonly double[] _fourth;
    private readonly double[] _smoothed;
    private readonly bool[] _smoothedSet;
    private double _seenMin = double.PositiveInfinity;
    private double _seenMax = double.NegativeInfinity;

    /// <summary>
    /// Kurtosis of the anchor's recent errors at which the weights are followed without smoothing (see <see cref="Smooth"/>):
    /// twice a Gaussian's 3.
    /// </summary>
    public const double SmoothingKurtosis = 6;

    /// <summary>Slowest smoothing of the weights: each row moves them at least 1/<see cref="SlowestSmoothing"/> of the way to the solved ones.</summary>
    public const int SlowestSmoothing = 32;

    /// <summary>
    /// A component's forecast is left out of its row when it lies further outside the range of the values seen so far (pooled
    /// over keys) than this fraction of that range (see <see cref="Plausible"/>).
    /// </summary>
    public const double RangeMargin = 0.5;

    /// <summary>Creates the state.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="components">Components.</param>
    public CombinationWeights(int horizons, int components)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(horizons, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(components, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(components, MaxComponents);
        Horizons = horizons;
        _n = components;
        _sum = new double[horizons * components * components];
        _weight = new double[horizons * components * components];
        _count = new int[horizons * components];
        _fourth = new double[horizons * components];
        _smoothed = new double[horizons * components];
        _smoothedSet = new bool[horizons];
        Tails = [new TailCalibration(horizons, MinTailFactor), new TailCalibration(horizons, MinTailFactor)];
    }

    /// <summary>Lowest tail factor of the combination's σ (it may narrow: a mean of its components' σ overstates its error).</summary>
    public const double MinTailFactor = 0.5;

    /// <summary>
    /// Tail calibrations of the combination's σ, shared by every key: [0] rows formed from components ready in their key,
    /// [1] a new key's rows, before any component is (their errors are of another size; pooled, they would skew the
    /// factor of the far more numerous steady rows).
    /// </summary>
    internal TailCalibration[] Tails { get; }

    /// <summary>K.</summary>
    public int Horizons { get; }

    /// <summary>Components.</summary>
    public int Components => _n;

    /// <summary>
    /// Adds one row's realised errors of horizon <paramref name="k"/> (NaN: that component had no forecast); every pair of
    /// finite errors updates its moment (bias-corrected exponential average, the plain mean until <see cref="Memory"/> rows).
    /// </summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="errors">Error per component (actual − forecast).</param>
    public void Add(int k, ReadOnlySpan<double> errors)
    {
        var b = k * _n * _n;
        for (var i = 0; i < _n; i++)
        {
            if (!double.IsFinite(errors[i])) continue;
            _count[(k * _n) + i]++;
            for (var j = 0; j < _n; j++)
            {
                if (!double.IsFinite(errors[j])) continue;
                var x = b + (i * _n) + j;
                _sum[x] = ((1 - Alpha) * _sum[x]) + (Alpha * errors[i] * errors[j]);
                _weight[x] = ((1 - Alpha) * _weight[x]) + Alpha;
            }

            var e2 = errors[i] * errors[i];
            _fourth[(k * _n) + i] = ((1 - Alpha) * _fourth[(k * _n) + i]) + (Alpha * e2 * e2);
        }
    }

    /// <summary>Kurtosis <c>E[e⁴] / E[e²]²</c> of component <paramref name="i"/>'s recent errors at horizon <paramref name="k"/>
    /// (same memory as the moments; 3 for Gaussian errors; NaN before any error).</summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="i">Component.</param>
    /// <returns>The kurtosis.</returns>
    public double Kurtosis(int k, int i)
    {
        var x = (k * _n * _n) + (i * _n) + i;
        return _weight[x] > 0 && _sum[x] > 0 ? _fourth[(k * _n) + i] * _weight[x] / (_sum[x] * _sum[x]) : double.NaN;
    }

    /// <summary>Adds a row's value (any key) to the range of values seen so far.</summary>
    /// <param name="value">The value (non-finite values are ignored).</param>
    public void Observe(double value)
    {
        if (!double.IsFinite(value)) return;
        _seenMin = Math.Min(_seenMin, value);
        _seenMax = Math.Max(_seenMax, value);
    }

    /// <summary>
    /// Whether a component's forecast <paramref name="mu"/> lies within the range of the values seen so far widened by
    /// <see cref="RangeMargin"/> of it on each side (true until two different values are seen: a constant series gives no
    /// range to judge by). A forecast far outside everything the series has
    /// shown (an AR fed a mis-charted 0 in a body-temperature series forecast −430) is not trusted on its row, whatever the
    /// component's weight.
    /// </summary>
    /// <param name="mu">The forecast.</param>
    /// <returns>True when plausible.</returns>
    public bool Plausible(double mu)
    {
        if (!(_seenMax > _seenMin)) return true;
        var margin = RangeMargin * (_seenMax - _seenMin);
        return mu >= _seenMin - margin && mu <= _seenMax + margin;
    }

    /// <summary>
    /// Smooths the solved weights <paramref name="w"/> of horizon <paramref name="k"/> in time when the anchor's recent errors
    /// are heavy-tailed, in place: a shared smoothed vector moves a fraction β of the way to them each row and replaces them,
    /// with <c>β = </c><see cref="SmoothingKurtosis"/><c> / kurtosis</c> of the anchor's errors, in [1/<see cref="SlowestSmoothing"/>, 1]
    /// (β = 1: the solved weights as they are). Only rows where every component takes part update or use it (other rows keep
    /// their solved weights). On heavy-tailed errors S is dominated by a few rows, and a single spike can move the solved weights
    /// from one component to another for the rows right after it, where the component it favoured (an AR whose lags now hold
    /// the spike) is at its wildest; smoothing lets such a swing pass. On light tails it changes nothing.
    /// </summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="anchor">Component whose error kurtosis sets β (−1: none, no smoothing).</param>
    /// <param name="eligible">Components taking part in this row.</param>
    /// <param name="w">Solved weights; receives the smoothed ones.</param>
    public void Smooth(int k, int anchor, ReadOnlySpan<bool> eligible, Span<double> w)
    {
        if (anchor < 0 || anchor >= _n) return;
        for (var i = 0; i < _n; i++)
        {
            if (!eligible[i]) return;
        }

        var kurt = Kurtosis(k, anchor);
        var beta = double.IsFinite(kurt) && kurt > SmoothingKurtosis ? Math.Max(SmoothingKurtosis / kurt, 1.0 / SlowestSmoothing) : 1.0;
        var s = _smoothed.AsSpan(k * _n, _n);
        for (var i = 0; i < _n; i++)
        {
            s[i] = _smoothedSet[k] && beta < 1 ? s[i] + (beta * (w[i] - s[i])) : w[i];
            w[i] = s[i];
        }

        _smoothedSet[k] = true;
    }

    /// <summary>Pooled recent MSE of component <paramref name="i"/> at horizon <paramref name="k"/> (NaN before any error).</summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="i">Component.</param>
    /// <returns>The MSE.</returns>
    public double PooledMse(int k, int i) => Moment(k, i, i);

    /// <summary>Pooled recent <c>E[e_i·e_j]</c> at horizon <paramref name="k"/> (NaN before the pair's first joint error).</summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="i">Component.</param>
    /// <param name="j">Component.</param>
    /// <returns>The moment.</returns>
    public double Moment(int k, int i, int j)
    {
        var x = (k * _n * _n) + (i * _n) + j;
        return _weight[x] > 0 ? _sum[x] / _weight[x] : double.NaN;
    }

    /// <summary>Whether component <paramref name="i"/> has at least <paramref name="min"/> pooled errors at horizon <paramref name="k"/>.</summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="i">Component.</param>
    /// <param name="min">Errors needed.</param>
    /// <returns>True when it has.</returns>
    public bool HasErrors(int k, int i, int min) => _count[(k * _n) + i] >= min;

    /// <summary>
    /// Weights at horizon <paramref name="k"/> over the components marked <paramref name="eligible"/>: argmin
    /// <c>w'Sw + λ‖w − e_anchor‖²</c> subject to w ≥ 0, Σw = 1, with <c>λ = </c><see cref="Shrinkage"/><c> × the smallest MSE of the eligible components</c> (a tiny ridge when there is no anchor)
    /// (exact, by trying every support set; at most <see cref="MaxComponents"/> components). The small pull toward the anchor
    /// (the last value) keeps estimation noise in S from lending weight to a component that only adds noise to it.
    /// </summary>
    /// <param name="k">Horizon index.</param>
    /// <param name="eligible">Components that may take part.</param>
    /// <param name="anchor">Component the weights are shrunk toward (−1: none; ignored when not eligible).</param>
    /// <param name="weights">Receives the weights (all 0 when none is eligible).</param>
    /// <param name="scratch">At least <c>2n² + 4n</c> doubles.</param>
    public void Solve(int k, ReadOnlySpan<bool> eligible, int anchor, Span<double> weights, Span<double> scratch)
    {
        var n = _n;
        weights.Clear();
        var s = scratch[..(n * n)];
        var diag = 0.0;
        var m = 0;
        var mask = 0;
        for (var i = 0; i < n; i++)
        {
            if (!eligible[i]) continue;
            for (var j = 0; j < n; j++) s[(i * n) + j] = eligible[j] ? Moment(k, i, j) : 0;
            diag += s[(i * n) + i];
            mask |= 1 << i;
            m++;
        }

        if (m == 0) return;
        var a = anchor >= 0 && anchor < n && eligible[anchor] ? anchor : -1;
        // The pull is in units of the smallest MSE of the components taking part: a wild component's large MSE must not
        // strengthen it, nor the anchor's own where another component is far better (the AR on EC2 latency, the seasonal
        // naive on CPU): there the pull toward the anchor only costs. On a random walk the anchor's MSE is the smallest.
        var minDiag = double.PositiveInfinity;
        for (var i = 0; i < n; i++)
        {
            if (eligible[i]) minDiag = Math.Min(minDiag, s[(i * n) + i]);
        }

        var lambda = a >= 0 ? Shrinkage * minDiag : Ridge * diag / m;
        MinVarianceSimplex(s, n, mask, lambda, a, weights, scratch[(n * n)..]);
    }

    /// <summary>Pull toward the anchor, relative to the smallest MSE of the eligible components (see <see cref="Solve"/>).</summary>
    public const double Shrinkage = 0.03;

    /// <summary>
    /// argmin <c>w'Sw + λ‖w − e_a‖²</c> over w ≥ 0, Σw = 1, w zero outside <paramref name="mask"/>: for each support set
    /// A ⊆ mask, the minimiser on A's affine hull is <c>M⁻¹(λe_a + μ1)</c> with <c>M = S_AA + λI</c> and μ fixing Σw = 1;
    /// the best of those that are non-negative is the optimum (the problem is convex, and its optimum is the affine
    /// minimiser of its own support). Without an anchor (a &lt; 0) λ is a plain ridge.
    /// </summary>
    /// <param name="s">Row-major n×n symmetric positive semi-definite matrix.</param>
    /// <param name="n">Size.</param>
    /// <param name="mask">Components allowed (bit i).</param>
    /// <param name="lambda">λ ≥ 0 (added to the diagonal).</param>
    /// <param name="a">Anchor component, or −1.</param>
    /// <param name="weights">Receives the weights.</param>
    /// <param name="scratch">At least <c>n² + 4n</c> doubles.</param>
    public static void MinVarianceSimplex(ReadOnlySpan<double> s, int n, int mask, double lambda, int a, Span<double> weights, Span<double> scratch)
    {
        weights.Clear();
        if (mask == 0) return;
        var mat = scratch[..(n * n)];
        var u = scratch.Slice(n * n, n);
        var g = scratch.Slice((n * n) + n, n);
        var w = scratch.Slice((n * n) + (2 * n), n);
        var best = scratch.Slice((n * n) + (3 * n), n);
        var bestValue = double.PositiveInfinity;
        var found = false;
        Span<int> idx = stackalloc int[MaxComponents];
        for (var set = mask; set > 0; set = (set - 1) & mask)
        {
            var m = 0;
            for (var i = 0; i < n; i++)
            {
                if ((set & (1 << i)) != 0) idx[m++] = i;
            }

            for (var r = 0; r < m; r++)
            {
                for (var c = 0; c < m; c++) mat[(r * m) + c] = s[(idx[r] * n) + idx[c]] + (r == c ? lambda : 0);
                u[r] = 1;
                g[r] = a >= 0 && idx[r] == a ? 1 : 0;
            }

            if (!Solve2(mat, u, g, m)) continue;
            double su = 0, sg = 0;
            for (var r = 0; r < m; r++)
            {
                su += u[r];
                sg += g[r];
            }

            if (!(Math.Abs(su) > 1e-300)) continue;
            var lg = a >= 0 ? lambda : 0;
            var mu = (1 - (lg * sg)) / su;
            var nonNegative = true;
            for (var r = 0; r < m; r++)
            {
                w[r] = (lg * g[r]) + (mu * u[r]);
                nonNegative &= w[r] >= 0;
            }

            if (!nonNegative) continue;
            // Objective on the full (ridged) matrix: w'(S + λI)w − 2λ·w_a (the constant λ dropped).
            var value = 0.0;
            for (var r = 0; r < m; r++)
            {
                var row = 0.0;
                for (var c = 0; c < m; c++) row += (s[(idx[r] * n) + idx[c]] + (r == c ? lambda : 0)) * w[c];
                value += w[r] * row;
                if (a >= 0 && idx[r] == a) value -= 2 * lambda * w[r];
            }

            if (!(value < bestValue)) continue;
            bestValue = value;
            found = true;
            best.Clear();
            for (var r = 0; r < m; r++) best[idx[r]] = w[r];
        }

        if (found) best.CopyTo(weights);
    }

    // Solves M x = b and M y = c in place (Gaussian elimination, partial pivoting); false when singular.
    private static bool Solve2(Span<double> a, Span<double> b, Span<double> c2, int m)
    {
        for (var c = 0; c < m; c++)
        {
            var p = c;
            for (var r = c + 1; r < m; r++)
            {
                if (Math.Abs(a[(r * m) + c]) > Math.Abs(a[(p * m) + c])) p = r;
            }

            if (!(Math.Abs(a[(p * m) + c]) > 1e-300)) return false;
            if (p != c)
            {
                for (var j = 0; j < m; j++) (a[(c * m) + j], a[(p * m) + j]) = (a[(p * m) + j], a[(c * m) + j]);
                (b[c], b[p]) = (b[p], b[c]);
                (c2[c], c2[p]) = (c2[p], c2[c]);
            }

            for (var r = c + 1; r < m; r++)
            {
                var f = a[(r * m) + c] / a[(c * m) + c];
                if (f == 0) continue;
                for (var j = c; j < m; j++) a[(r * m) + j] -= f * a[(c * m) + j];
                b[r] -= f * b[c];
                c2[r] -= f * c2[c];
            }
        }

        for (var r = m - 1; r >= 0; r--)
        {
            double v = b[r], v2 = c2[r];
            for (var j = r + 1; j < m; j++)
            {
                v -= a[(r * m) + j] * b[j];
                v2 -= a[(r * m) + j] * c2[j];
            }

            b[r] = v / a[(r * m) + r];
            c2[r] = v2 / a[(r * m) + r];
            if (!double.IsFinite(b[r]) || !double.IsFinite(c2[r])) return false;
        }

        return true;
    }
}
