using Microsoft.Extensions.Logging;
using StreamLstm.Sink.Spool;

namespace StreamLstm.Sink.Influx;

/// <summary>Result of <see cref="SpoolReplayer"/>.</summary>
/// <param name="Target">Where the points went.</param>
/// <param name="PointsBefore">Points waiting in the source spool before.</param>
/// <param name="PointsDelivered">Points InfluxDB acknowledged.</param>
/// <param name="PointsLeft">Points still spooled afterwards (InfluxDB down, or the timeout ran out), in the target's own spool.</param>
/// <param name="PointsDeadLettered">Points InfluxDB rejected (in <c>rejected.jsonl</c>).</param>
public sealed record SpoolReplayResult(SpoolDestination Target, long PointsBefore, long PointsDelivered, long PointsLeft, long PointsDeadLettered);

/// <summary>
/// Sends one spool directory's batches (<c>streamlstm spool replay</c>): to the destination it was recorded for, or, when
/// the operator says so explicitly, to another one. Batches move through an <see cref="InfluxWriter"/> for the target, so
/// what it cannot deliver stays durably spooled, bound to the target.
/// </summary>
public static class SpoolReplayer
{
    /// <summary>Options for a recorded destination: its URL and database/bucket, with credentials and tuning from <paramref name="template"/>.</summary>
    /// <param name="destination">Recorded destination.</param>
    /// <param name="template">Credentials (username/password or token) and batching settings.</param>
    /// <returns>Options writing to exactly that destination.</returns>
    public static InfluxOptions OptionsFor(SpoolDestination destination, InfluxOptions template)
    {
        var o = template.Clone();
        o.Url = destination.Url;
        o.Api = destination.Api == "v1" ? InfluxApi.V1 : InfluxApi.V2;
        o.Database = destination.Database;
        o.RetentionPolicy = destination.RetentionPolicy;
        o.Org = destination.Org;
        o.Bucket = destination.Bucket;
        return o;
    }

    /// <summary>Replays <paramref name="entry"/> to <paramref name="target"/>.</summary>
    /// <param name="http">HTTP client.</param>
    /// <param name="root">Spool root.</param>
    /// <param name="entry">The spool to send (from <see cref="SpoolCatalog.List"/>).</param>
    /// <param name="target">Validated target options. Must be the entry's own destination unless <paramref name="allowOtherDestination"/>.</param>
    /// <param name="allowOtherDestination">The operator confirmed sending to a destination other than the recorded one.</param>
    /// <param name="deadLetterDirectory">Dead-letter directory.</param>
    /// <param name="timeout">How long to wait for InfluxDB to take everything.</param>
    /// <param name="time">Clock.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="cancellationToken">Cancels.</param>
    /// <returns>What happened.</returns>
    public static async Task<SpoolReplayResult> ReplayAsync(HttpClient http, string root, SpoolEntry entry, InfluxOptions target, bool allowOtherDestination, string deadLetterDirectory, TimeSpan timeout, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        var destination = target.GetDestination();
        var own = entry.Destination is not null && entry.Destination.SameAs(destination);
        if (!own && !allowOtherDestination)
        {
            throw new InvalidOperationException(entry.Destination is null
                ? $"The spool '{entry.Key}' has no recorded destination; sending it anywhere needs --to URL and the confirmation flag."
                : $"The spool '{entry.Key}' belongs to {entry.Destination}, not {destination}; sending it elsewhere needs the confirmation flag.");
        }

        var spoolOptions = new SpoolOptions { Directory = root };
        var before = entry.Stats.Points;
        var writer = new InfluxWriter(http, target, spoolOptions, deadLetterDirectory, time, logger);
        await using (writer.ConfigureAwait(false))
        {
            if (!own)
            {
                // Move batch by batch: each source record is acknowledged only once the target writer has it delivered or
                // durably in its own spool, so a crash here loses nothing (at worst a batch is sent twice: writes are idempotent).
                using var source = SegmentSpool.Open(new SpoolOptions { Directory = entry.Key == SpoolCatalog.UnboundKey ? root : entry.Directory, Fsync = true }, deadLetterDirectory, logger);
                while (source.TryPeek(out var record))
                {
                    await writer.WriteLinesAsync(record.Payload, record.Points, cancellationToken).ConfigureAwait(false);
                    await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                    source.Acknowledge();
                }
            }

            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(timeout);
            try
            {
                await writer.FlushAsync(wait.Token).ConfigureAwait(false);
                await writer.WaitForSpoolDrainedAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Timed out: what is left stays in the target's spool.
            }

            return new SpoolReplayResult(destination, before, writer.Counters.PointsDelivered, writer.Spool.PendingPoints, writer.Counters.PointsDeadLettered);
        }
    }
}
