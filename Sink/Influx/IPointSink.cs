using StreamLstm.Sink.LineProtocol;

namespace StreamLstm.Sink.Influx;

/// <summary>Where encoded points go: the InfluxDB writer, or a line-protocol file when no InfluxDB is configured.</summary>
public interface IPointSink : IAsyncDisposable
{
    /// <summary>Precision the points must be encoded with.</summary>
    WritePrecision Precision { get; }

    /// <summary>Counters for the <c>pipeline</c> measurement and tests.</summary>
    SinkCounters Counters { get; }

    /// <summary>Takes responsibility for the complete lines in <paramref name="lines"/> (copies them). Waits when the sink is full.</summary>
    /// <param name="lines">Encoded points; may be reused after the call.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>Completes when the lines are buffered, sent or spooled.</returns>
    ValueTask WriteAsync(LineProtocolBuffer lines, CancellationToken cancellationToken);

    /// <summary>Sends everything buffered; completes when it is delivered or durably spooled.</summary>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>A task.</returns>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}

/// <summary>Monotonic counters of a point sink (thread-safe reads).</summary>
public sealed class SinkCounters
{
    private long _accepted;
    private long _delivered;
    private long _spooled;
    private long _deadLettered;
    private long _requests;
    private long _failedRequests;
    private long _batches;
    private long _batchPoints;

    /// <summary>Points handed to the sink.</summary>
    public long PointsAccepted => Interlocked.Read(ref _accepted);

    /// <summary>Points acknowledged by InfluxDB (a replayed point counts again).</summary>
    public long PointsDelivered => Interlocked.Read(ref _delivered);

    /// <summary>Points appended to the spool.</summary>
    public long PointsSpooled => Interlocked.Read(ref _spooled);

    /// <summary>Points sent to the dead-letter file.</summary>
    public long PointsDeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Write requests (after retries) made.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Write requests that ended unavailable.</summary>
    public long FailedRequests => Interlocked.Read(ref _failedRequests);

    /// <summary>Batches sealed.</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Mean points per sealed batch.</summary>
    public double MeanBatchPoints => Batches == 0 ? 0 : (double)Interlocked.Read(ref _batchPoints) / Batches;

    /// <summary>Points in the spool now (set by the writer).</summary>
    public long SpoolPoints { get; internal set; }

    /// <summary>Bytes in the spool now (set by the writer).</summary>
    public long SpoolBytes { get; internal set; }

    /// <summary>
    /// HTTP status of the configuration error InfluxDB answers now (401, 403 or 404), 0 when none. While set, the writer
    /// keeps batches in the spool and tries again only after a long, capped backoff; for status pages and health checks.
    /// </summary>
    public int ConfigurationErrorStatus { get; internal set; }

    /// <summary>The server's message for <see cref="ConfigurationErrorStatus"/> (null when none).</summary>
    public string? ConfigurationError { get; internal set; }

    /// <summary>The sink stopped after an unexpected error: writes and flushes fail (see <see cref="Fault"/>).</summary>
    public bool Faulted => Fault is not null;

    /// <summary>The unexpected error that stopped the sink (null while healthy).</summary>
    public string? Fault { get; internal set; }

    /// <summary>Points of spool records that could no longer be read (checksum errors) and were moved to the dead-letter directory.</summary>
    public long PointsQuarantined { get; internal set; }

    internal void Accepted(long n) => Interlocked.Add(ref _accepted, n);

    internal void Delivered(long n) => Interlocked.Add(ref _delivered, n);

    internal void Spooled(long n) => Interlocked.Add(ref _spooled, n);

    internal void DeadLettered(long n) => Interlocked.Add(ref _deadLettered, n);

    internal void Request(bool failed)
    {
        Interlocked.Increment(ref _requests);
        if (failed)
        {
            Interlocked.Increment(ref _failedRequests);
        }
    }

    internal void Batch(int points)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batchPoints, points);
    }
}
