using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>The forecast combination (ours) and the tail calibration of σ.</summary>
public class CombinationTests
{
    [Fact]
    public void TailFactor_IsOneUntilEnoughErrors_ThenTheRecent95PercentQuantileOver196()
    {
        var t = new TailCalibration(1);
        for (var i = 0; i < TailCalibration.MinErrors - 1; i++) t.Add(0, 4.0);
        Assert.Equal(1.0, t.Factor(0));
        var u = new TailCalibration(1);
        // |z| spread evenly over [0, 4): the 95 % quantile is 3.8, so σ must widen by 3.8 / 1.96.
        for (var i = 0; i < TailCalibration.Window; i++) u.Add(0, 4.0 * ((i * 7919) % TailCalibration.Window) / TailCalibration.Window);
        Assert.Equal(3.8 / 1.959964, u.Factor(0), 2);
    }

    [Fact]
    public void TailFactor_OnlyWidensByDefault_ButMayNarrowWithALowerMinimum()
    {
        var widenOnly = new TailCalibration(1);
        var both = new TailCalibration(1, minFactor: 0.5);
        for (var i = 0; i < 512; i++)
        {
            widenOnly.Add(0, 0.15 * (i % 10)); // light tails: q95 = 1.35
            both.Add(0, 0.15 * (i % 10));
        }

        Assert.Equal(1.0, widenOnly.Factor(0));
        Assert.Equal(1.35 / 1.959964, both.Factor(0), 2);
    }

    [Fact]
    public void MinVarianceSimplex_GivesANoisyCopyNoWeight_SplitsIndependentErrors_AndNeverGoesNegative()
    {
        var w = new double[2];
        var scratch = new double[64];
        // e2 = e1 − noise: S = [[1, 1], [1, 1.1]]; any weight on 2 only adds noise.
        CombinationWeights.MinVarianceSimplex([1, 1, 1, 1.1], 2, 0b11, 0, -1, w, scratch);
        Assert.Equal(1, w[0], 9);
        Assert.Equal(0, w[1], 9);
        // Independent errors of variance 1 and 4: weights 0.8 / 0.2 (inverse variance).
        CombinationWeights.MinVarianceSimplex([1, 0, 0, 4], 2, 0b11, 0, -1, w, scratch);
        Assert.Equal(0.8, w[0], 9);
        Assert.Equal(0.2, w[1], 9);
        // Strongly correlated, the second much worse: the unconstrained optimum would short it; the simplex stops at 0.
        CombinationWeights.MinVarianceSimplex([1, 1.8, 1.8, 4], 2, 0b11, 0, -1, w, scratch);
        Assert.Equal(1, w[0], 9);
        Assert.Equal(0, w[1], 9);
        // A component outside the mask gets nothing, however good.
        var w3 = new double[3];
        CombinationWeights.MinVarianceSimplex([1, 0, 0, 0, 0.01, 0, 0, 0, 2], 3, 0b101, 0, -1, w3, scratch);
        Assert.Equal(0, w3[1]);
        Assert.Equal(2.0 / 3, w3[0], 9);
    }

    [Fact]
    public void MinVarianceSimplex_ShrinkagePullsTowardTheAnchor_OnlyAsFarAsLambdaSays()
    {
        var w = new double[2];
        var scratch = new double[64];
        // Equal independent errors: 0.5 / 0.5 without a pull; minimising w'(S + λI)w − 2λ·w0 gives w0 = (1 + λ/(1 + λ)) / 2.
        CombinationWeights.MinVarianceSimplex([1, 0, 0, 1], 2, 0b11, 0.5, 0, w, scratch);
        Assert.Equal((1 + (0.5 / 1.5)) / 2, w[0], 9);
        Assert.Equal(1 - w[0], w[1], 12);
    }

    [Fact]
    public void Combiner_ConvergesToTheBetterCandidate_AndIgnoresANoisyCopyOfIt()
    {
        var s = ForecastTestData.Sine(4000, 48, 0.2);
        var future = ForecastTestData.Sine(4010, 48, 0.2).Values; // the same rows and a few more, so the last row still has forecasts
        const int k = 2;
        ForecastCombiner? combiner = null;
        var (mu, _, _, _) = ForecastEvaluation.Pass(s, k, _ =>
        {
            var good = new Oracle(future, k, 1.0, 1);
            OnlineForecaster[] parts = [good, new NoisyCopy(good, 1.0, 2), new Oracle(future, k, 3.0, 3)];
            combiner = new ForecastCombiner(k, parts, new CombinationWeights(k, parts.Length));
            return [.. parts, combiner];
        });
        var w = combiner!.LastWeights(k - 1);
        Assert.True(w[0] > 0.85, $"weights {string.Join(", ", w.Select(x => x.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}: the good one must dominate");
        Assert.True(w[1] < 0.05, $"the noisy copy got {w[1]:F3}: it only adds noise to the good one");
        var rmse = mu.Select(m => Rmse(s.Values, m, k, from: 1000)).ToArray();
        // Optimal: 0.9 / 0.1 on good / independent σ=3 gives RMSE √0.9 ≈ 0.949; anything ≤ the good one's is convergence.
        Assert.True(rmse[3] <= rmse[0] * 1.005, $"combination {rmse[3]:F4} vs best component {rmse[0]:F4}");
        Assert.True(rmse[3] < rmse[1] && rmse[3] < rmse[2]);
    }

    [Fact]
    public void CombinerSigma_OfTwoIndependentComponents_IsNarrowedSoThe95IntervalCoversNearNominal()
    {
        var s = ForecastTestData.Sine(6000, 48, 0.2);
        const int k = 1;
        var (mu, sigma, _, _) = ForecastEvaluation.Pass(s, k, _ =>
        {
            OnlineForecaster[] parts = [new Oracle(s.Values, k, 1.0, 1), new Oracle(s.Values, k, 1.0, 2)];
            return [.. parts, new ForecastCombiner(k, parts, new CombinationWeights(k, parts.Length))];
        });
        // Components' σ ≈ 1 but the equal-weight mean's error has σ ≈ 0.71: their mean σ would cover ~99.4 %.
        double inside = 0, n = 0, partSigma = 0, ourSigma = 0;
        for (var t = 2000; t < s.Count; t++)
        {
            if (!double.IsFinite(mu[2][t]) || !(sigma[2][t] > 0)) continue;
            n++;
            if (Math.Abs(s.Values[t] - mu[2][t]) <= 1.959964 * sigma[2][t]) inside++;
            partSigma += (sigma[0][t] + sigma[1][t]) / 2;
            ourSigma += sigma[2][t];
        }

        Assert.InRange(inside / n, 0.93, 0.97);
        Assert.InRange(ourSigma / partSigma, 0.6, 0.8);
    }

    [Fact]
    public void CombinerSigma_OfHeavyTailedErrors_IsWidenedToNominal()
    {
        var s = ForecastTestData.Sine(6000, 48, 0.2);
        const int k = 1;
        var (mu, sigma, _, _) = ForecastEvaluation.Pass(s, k, _ =>
        {
            OnlineForecaster[] parts = [new Oracle(s.Values, k, 1.0, 1, heavy: true)];
            return [.. parts, new ForecastCombiner(k, parts, new CombinationWeights(k, parts.Length))];
        });
        double inside = 0, insideRaw = 0, n = 0;
        for (var t = 2000; t < s.Count; t++)
        {
            if (!double.IsFinite(mu[1][t]) || !(sigma[1][t] > 0)) continue;
            n++;
            if (Math.Abs(s.Values[t] - mu[1][t]) <= 1.959964 * sigma[1][t]) inside++;
            if (Math.Abs(s.Values[t] - mu[0][t]) <= 1.959964 * sigma[0][t]) insideRaw++;
        }

        // The component's RMS-calibrated σ misses the 95 % (70 % N(0, 0.3²) + 30 % N(0, 1.8²) covers ~90 % at 1.96 RMS).
        Assert.True(insideRaw / n < 0.93, $"test premise: the RMS-calibrated component covers {insideRaw / n:F3}");
        Assert.InRange(inside / n, 0.93, 0.97);
    }

    [Fact]
    public void Combiner_LeavesOutAForecastFarOutsideTheSeenValues_SoItStaysWithItsBestPart()
    {
        // A level near 37 (a body temperature) with small noise; component 1 knows the future to ±0.05 (it gets nearly all the
        // weight) but once forecasts −400 (an AR fed a mis-charted 0). Followed with its weight, that one row alone puts ours'
        // RMSE far behind the last value's.
        var rng = new Random(5);
        var y = Enumerable.Range(0, 3000).Select(_ => 37 + (0.3 * Gaussian(rng))).ToArray();
        var s = new SeriesData(y.Select((_, i) => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray(), null, y, 0);
        const int k = 1;
        var (mu, _, _, _) = ForecastEvaluation.Pass(s, k, _ =>
        {
            OnlineForecaster[] parts = [new LastValueForecaster(k), new Oracle(y, k, 0.05, 7, wildAt: 2000)];
            return [.. parts, new ForecastCombiner(k, parts, new CombinationWeights(k, parts.Length), anchor: 0)];
        });
        var rmse = mu.Select(m => Rmse(y, m, k, from: 200)).ToArray();
        Assert.True(rmse[1] > rmse[0], $"test premise: the wild component's RMSE {rmse[1]:F3} is behind the last value's {rmse[0]:F3}");
        Assert.True(rmse[2] <= rmse[0], $"ours {rmse[2]:F4} vs the last value {rmse[0]:F4} (its best part over the run)");
        Assert.True(Math.Abs(y[2000] - mu[2][2000]) < 2, $"ours followed the wild forecast: {mu[2][2000]:F1} for {y[2000]:F1}");
    }

    [Fact]
    public void Smooth_LeavesLightTailedWeightsAsSolved_ButDampsTheSwingOfASingleSpike()
    {
        // Light tails (Gaussian errors, kurtosis ≈ 3): the solved weights pass unchanged.
        var light = new CombinationWeights(1, 2);
        var rng = new Random(3);
        for (var t = 0; t < 2000; t++)
        {
            var e = Gaussian(rng);
            light.Add(0, [e, e + (0.5 * Gaussian(rng))]);
        }

        Assert.InRange(light.Kurtosis(0, 0), 2.5, 3.5);
        double[] w = [0.7, 0.3];
        light.Smooth(0, 0, [true, true], w);
        w = [0.2, 0.8];
        light.Smooth(0, 0, [true, true], w);
        Assert.Equal(new[] { 0.2, 0.8 }, w);

        // Heavy tails (a spike of 60σ every 200 rows): after a spike row that favoured component 1, the solved weights swing
        // to it; the smoothed ones move only a small step toward them.
        var heavy = new CombinationWeights(1, 2);
        var scratch = new double[64];
        for (var t = 1; t <= 2000; t++)
        {
            var e = Gaussian(rng);
            heavy.Add(0, t % 200 == 0 ? [60, 60] : [e, e + (0.5 * Gaussian(rng))]);
            var s = new double[2];
            heavy.Solve(0, [true, true], 0, s, scratch);
            heavy.Smooth(0, 0, [true, true], s);
        }

        Assert.True(heavy.Kurtosis(0, 0) > 20, $"test premise: kurtosis {heavy.Kurtosis(0, 0):F1}");
        var before = new double[2];
        heavy.Solve(0, [true, true], 0, before, scratch);
        heavy.Smooth(0, 0, [true, true], before);
        heavy.Add(0, [60, 5]); // one spike that component 1 happened to catch
        var swing = new double[2];
        heavy.Solve(0, [true, true], 0, swing, scratch);
        var damped = swing.ToArray();
        heavy.Smooth(0, 0, [true, true], damped);
        Assert.True(swing[1] > before[1] + 0.5, $"test premise: the solved weight on 1 swings {before[1]:F3} → {swing[1]:F3}");
        Assert.True(damped[1] - before[1] < 0.25 * (swing[1] - before[1]), $"smoothed {before[1]:F3} → {damped[1]:F3} (solved {swing[1]:F3})");
        Assert.Equal(1, damped[0] + damped[1], 12);
    }

    [Fact]
    public void Combiner_DoesNotAllocatePerRow()
    {
        var s = ForecastTestData.Sine(3000, 48, 0.2);
        const int k = 3;
        OnlineForecaster[] parts = [new LastValueForecaster(k), new LastValueForecaster(k), new LastValueForecaster(k)];
        var c = new ForecastCombiner(k, parts, new CombinationWeights(k, parts.Length), anchor: 0);
        var m = new double[k];
        var sg = new double[k];
        for (var t = 0; t < 1000; t++) Step(t);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var t = 1000; t < 2000; t++) Step(t);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);

        void Step(int t)
        {
            foreach (var p in parts) p.Step(s.Values[t], null, m, sg);
            c.Step(s.Values[t], null, m, sg);
        }
    }

    private static double Rmse(double[] y, double[] mu, int k, int from)
    {
        double sum = 0;
        var n = 0;
        for (var t = from; t < y.Length; t++)
        {
            var m = mu[(t * k) + k - 1];
            if (!double.IsFinite(m)) continue;
            sum += (y[t] - m) * (y[t] - m);
            n++;
        }

        return Math.Sqrt(sum / n);
    }

    /// <summary>Forecasts the true future plus seeded noise of a given size (a stand-in component with known error); heavy: a
    /// mixture, 70 % N(0, (0.3·noise)²) and 30 % N(0, (1.8·noise)²); wildAt: the target row it forecasts −400 for.</summary>
    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private sealed class Oracle(double[] y, int horizons, double noise, int seed, bool heavy = false, int wildAt = -1) : OnlineForecaster(horizons)
    {
        private readonly Random _rng = new(seed);

        public override string Name => "oracle" + seed;

        protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
        {
            for (var h = 0; h < Horizons; h++)
            {
                var target = Rows + h + 1;
                var z = Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble());
                if (heavy) z *= _rng.NextDouble() < 0.7 ? 0.3 : 1.8;
                mu[h] = target < y.Length ? y[target] + (noise * z) : double.NaN;
                if (target == wildAt) mu[h] = -400;
                rawSigma[h] = 1;
            }
        }
    }

    /// <summary>Another component's forecast plus independent noise (stepped after it).</summary>
    private sealed class NoisyCopy(OnlineForecaster of, double noise, int seed) : OnlineForecaster(of.Horizons)
    {
        private readonly Random _rng = new(seed);

        public override string Name => "copy" + seed;

        protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
        {
            for (var h = 0; h < Horizons; h++)
            {
                var z = Math.Sqrt(-2 * Math.Log(1 - _rng.NextDouble())) * Math.Cos(2 * Math.PI * _rng.NextDouble());
                mu[h] = of.LastMu[h] + (noise * z);
                rawSigma[h] = 1;
            }
        }
    }
}
