using Prometheus;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Web.Metrics;

/// <summary>An output that only observes each micro-batch's size (once per batch, never per row).</summary>
public sealed class BatchSizeTap : IForecastOutput
{
    private readonly Histogram.Child[] _byKind;

    /// <summary>Creates the tap.</summary>
    /// <param name="metrics">Where the histogram lives.</param>
    public BatchSizeTap(ServiceMetrics metrics) =>
        _byKind = [.. new[] { SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio }.Select(k => metrics.BatchSize.WithLabels(k.ToWireName()))];

    /// <inheritdoc />
    public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
    {
        if (batch.Count > 0) _byKind[(int)batch.Source].Observe(batch.Count);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
