using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Hosting;

/// <summary>The last forecast row of one kind, for status displays.</summary>
/// <param name="Source">Kind.</param>
/// <param name="Key">Entity.</param>
/// <param name="TimestampMs">Event time.</param>
/// <param name="Observed">Observed value.</param>
/// <param name="Mu">Means per horizon.</param>
/// <param name="Sigma">Standard deviations per horizon.</param>
/// <param name="ModelVersion">Model version.</param>
public sealed record LatestForecast(SourceKind Source, string Key, long TimestampMs, double Observed, float[] Mu, float[] Sigma, string ModelVersion);

/// <summary>An output that remembers the last row of each kind's latest batch (one copy per batch, not per event).</summary>
public sealed class LatestForecasts : IForecastOutput
{
    private readonly LatestForecast?[] _latest = new LatestForecast?[3];

    /// <summary>The latest forecast of <paramref name="kind"/>, if any.</summary>
    /// <param name="kind">Kind.</param>
    /// <returns>The row or null.</returns>
    public LatestForecast? Of(SourceKind kind) => Volatile.Read(ref _latest[(int)kind]);

    /// <inheritdoc />
    public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
    {
        if (batch.Count > 0)
        {
            var r = batch.Count - 1;
            Volatile.Write(ref _latest[(int)batch.Source], new LatestForecast(batch.Source, batch.Keys[r], batch.TimestampsMs[r], batch.Observed[r], batch.MuOf(r).ToArray(), batch.SigmaOf(r).ToArray(), batch.ModelVersion));
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
