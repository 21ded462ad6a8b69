using System.Reactive.Linq;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StreamLstm.Sink.Outputs;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Hosting;

/// <summary>
/// Writes the <c>pipeline</c> measurement (throughput, latency, lag, batch size) every few seconds from the Rx status
/// feed, so dashboards can plot the service's own health next to its forecasts.
/// </summary>
public sealed partial class PipelineStatsPublisher(StatusFeed feed, IPipelineStatsSink sink, ILogger<PipelineStatsPublisher> logger) : IHostedService, IDisposable
{
    /// <summary>How often a sample is written.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(5);

    private IDisposable? _subscription;
    private PipelineTotals? _previous;

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Concat over an async write keeps one write at a time per sample and never blocks the feed's timer.
        _subscription = feed.Samples(Period)
            .Select(sample => Observable.FromAsync(ct => WriteAsync(sample, ct)))
            .Concat()
            .Subscribe(_ => { }, ex => LogFailed(logger, ex.Message));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync(CancellationToken cancellationToken)
    {
        _subscription?.Dispose();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose() => _subscription?.Dispose();

    private async Task WriteAsync(StatusSample sample, CancellationToken ct)
    {
        var totals = sample.Totals;
        var batches = totals.Batches - (_previous?.Batches ?? 0);
        var forecasts = totals.Forecasts - (_previous?.Forecasts ?? 0);
        _previous = totals with { };
        var meanBatch = batches > 0 ? (double)forecasts / batches : 0;
        try
        {
            await sink.WritePipelineStatsAsync(new PipelineStats(null, sample.EventsPerSecond, sample.P50Micros / 1000.0, sample.Lag, meanBatch), ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogFailed(logger, ex.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not write pipeline stats: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
