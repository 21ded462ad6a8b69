namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>Seasonal period from the autocorrelation of the linearly detrended series: the lag of the highest local peak.</summary>
public static class PeriodDetector
{
    /// <summary>Smallest autocorrelation a peak must reach to count as a season.</summary>
    public const double MinCorrelation = 0.3;

    /// <summary>The detected period, or 0 when no lag in [2, maxLag] has a local autocorrelation peak of at least <see cref="MinCorrelation"/>.</summary>
    /// <param name="values">Series (oldest first).</param>
    /// <param name="maxLag">Largest lag tried (capped at a third of the length, so that a peak is seen at least three times over).</param>
    /// <returns>The period in rows, or 0.</returns>
    public static int Detect(ReadOnlySpan<double> values, int maxLag)
    {
        var n = values.Length;
        maxLag = Math.Min(maxLag, n / 3);
        if (maxLag < 3) return 0;

        // Remove a least-squares line so that a trend does not make every lag look correlated.
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (var i = 0; i < n; i++)
        {
            sx += i;
            sy += values[i];
            sxx += (double)i * i;
            sxy += i * values[i];
        }

        var slope = ((n * sxy) - (sx * sy)) / ((n * sxx) - (sx * sx));
        var intercept = (sy - (slope * sx)) / n;
        var r = new double[n];
        var var0 = 0.0;
        for (var i = 0; i < n; i++)
        {
            r[i] = values[i] - (intercept + (slope * i));
            var0 += r[i] * r[i];
        }

        if (!(var0 > 0)) return 0;
        var acf = new double[maxLag + 2];
        for (var lag = 1; lag <= maxLag + 1 && lag < n; lag++)
        {
            var s = 0.0;
            for (var i = lag; i < n; i++) s += r[i] * r[i - lag];
            acf[lag] = s / var0;
        }

        var best = 0;
        var bestValue = MinCorrelation;
        for (var lag = 2; lag <= maxLag; lag++)
        {
            // A local peak, after the autocorrelation has first dipped (lags next to 0 are high for any smooth series).
            if (acf[lag] >= acf[lag - 1] && acf[lag] > acf[lag + 1] && acf[lag] > bestValue && HasDipped(acf, lag))
            {
                best = lag;
                bestValue = acf[lag];
            }
        }

        return best;
    }

    private static bool HasDipped(double[] acf, int lag)
    {
        for (var i = 1; i < lag; i++)
        {
            if (acf[i] < acf[lag] - 0.1) return true;
        }

        return false;
    }
}
