using StreamLstm.Ingest.Generators;

namespace StreamLstm.Ingest.Replay;

/// <summary>Outcome of a replay.</summary>
/// <param name="Produced">Messages produced.</param>
/// <param name="Delivered">Messages acknowledged by Kafka.</param>
/// <param name="Failed">Messages that failed delivery.</param>
/// <param name="Keys">Distinct keys produced.</param>
/// <param name="FirstTimestampMs">Event time of the first record (0 when none).</param>
/// <param name="LastTimestampMs">Event time of the last record (0 when none).</param>
/// <param name="Elapsed">Time taken, on the injected clock.</param>
public sealed record ReplayReport(long Produced, long Delivered, long Failed, int Keys, long FirstTimestampMs, long LastTimestampMs, TimeSpan Elapsed);

/// <summary>
/// Produces replay records to Kafka keeping their original spacing divided by <c>speed</c>: record i goes out no earlier
/// than (ts_i − ts_0) / speed after the start, on the injected <see cref="TimeProvider"/>. Speed 0 = as fast as possible.
/// </summary>
public static class ReplayRunner
{
    /// <summary>Runs the replay, then flushes the producer.</summary>
    /// <param name="records">Records in time order.</param>
    /// <param name="producer">The Kafka producer.</param>
    /// <param name="topic">Target topic.</param>
    /// <param name="speed">Time scale (2 = twice as fast as recorded); 0 = no waiting.</param>
    /// <param name="limit">Maximum records (0 = all).</param>
    /// <param name="time">Clock for pacing (null = system clock).</param>
    /// <param name="progress">Called after each record with the count so far (may be null).</param>
    /// <param name="cancellationToken">Stops early; what was produced is still flushed.</param>
    /// <returns>Counts and timing.</returns>
    public static async Task<ReplayReport> RunAsync(IEnumerable<ReplayRecord> records, KafkaEventProducer producer, string topic, double speed, long limit = 0, TimeProvider? time = null, Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        if (!(speed >= 0) || double.IsInfinity(speed))
        {
            throw new ArgumentOutOfRangeException(nameof(speed), speed, "speed must be >= 0 (0 = as fast as possible)");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        var pacer = new Pacer(time ?? TimeProvider.System, 0);
        var delivered0 = producer.Delivered;
        var failed0 = producer.Failed;
        var keys = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        long produced = 0, first = 0, last = 0;
        foreach (var record in records)
        {
            if ((limit > 0 && produced >= limit) || cancellationToken.IsCancellationRequested)
            {
                break;
            }

            if (produced == 0)
            {
                first = record.TimestampMs;
            }

            if (speed > 0)
            {
                await pacer.WaitUntilAsync(TimeSpan.FromMilliseconds((record.TimestampMs - first) / speed), cancellationToken).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
            }

            if (!keys.TryGetValue(record.Key, out var key))
            {
                keys[record.Key] = key = System.Text.Encoding.UTF8.GetBytes(record.Key);
            }

            producer.Produce(topic, key, record.Value);
            last = record.TimestampMs;
            produced++;
            progress?.Invoke(produced);
        }

        producer.Flush(cancellationToken);
        return new ReplayReport(produced, producer.Delivered - delivered0, producer.Failed - failed0, keys.Count, first, last, pacer.Elapsed);
    }
}
