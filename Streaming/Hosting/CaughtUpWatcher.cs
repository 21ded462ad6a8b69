using Confluent.Kafka;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Streaming.Hosting;

/// <summary>
/// Watches a running pipeline until it is caught up (see <see cref="CaughtUpTracker"/>). The pipeline's consumer says
/// which partitions it holds and its own lag; a side client of the same group (it never joins the group, it only reads)
/// adds the group's committed offsets and the end offsets, so a restart whose group already committed the end counts as
/// caught up although this process has consumed nothing.
/// </summary>
public sealed class CaughtUpWatcher : IDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);
    private readonly KafkaIngestConsumer _consumer;
    private readonly IConsumer<byte[], byte[]> _group;

    /// <summary>Creates a watcher of <paramref name="consumer"/>.</summary>
    /// <param name="consumer">The pipeline's consumer.</param>
    /// <param name="bootstrapServers">Its cluster.</param>
    /// <param name="groupId">Its consumer group.</param>
    public CaughtUpWatcher(KafkaIngestConsumer consumer, string bootstrapServers, string groupId)
    {
        _consumer = consumer;
        KafkaNative.EnsureLoaded();
        _group = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = groupId,
            EnableAutoCommit = false,
            ClientId = "streamlstm-caught-up-watcher",
        }).Build();
    }

    /// <summary>Reads every assigned partition's progress once.</summary>
    /// <returns>Partitions assigned, and the progress of those whose end offset is known.</returns>
    public (int Assigned, IReadOnlyList<PartitionProgress> Progress) Read()
    {
        var assigned = _consumer.AssignedPartitions;
        var lags = _consumer.PartitionLags;
        if (assigned == 0 || lags.Count == 0) return (assigned, []);
        var parts = lags.Select(l => new TopicPartition(l.Topic, l.Partition)).ToList();
        var committed = _group.Committed(parts, RequestTimeout).ToDictionary(c => c.TopicPartition, c => c.Offset.Value);
        var progress = new List<PartitionProgress>(lags.Count);
        foreach (var lag in lags)
        {
            var tp = new TopicPartition(lag.Topic, lag.Partition);
            var end = _group.QueryWatermarkOffsets(tp, RequestTimeout).High.Value;
            var groupLag = Math.Max(0, end - Math.Max(0, committed.GetValueOrDefault(tp, -1)));
            progress.Add(new PartitionProgress(lag.Topic, lag.Partition, Math.Min(lag.Lag, groupLag)));
        }

        return (assigned, progress);
    }

    /// <summary>Reads every <paramref name="every"/> until <paramref name="tracker"/> says caught up.</summary>
    /// <param name="tracker">The decision.</param>
    /// <param name="every">Reading interval.</param>
    /// <param name="time">Clock of the interval.</param>
    /// <param name="cancellationToken">Stops waiting (the host is stopping).</param>
    /// <returns>A task that completes when caught up.</returns>
    public async Task WaitAsync(CaughtUpTracker tracker, TimeSpan every, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tracker);
        using var timer = new PeriodicTimer(every, time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            IReadOnlyList<PartitionProgress>? progress;
            int assigned;
            try
            {
                (assigned, progress) = Read();
            }
            catch (KafkaException)
            {
                // The cluster did not answer this time: not a reason to stop, only not a zero-lag reading.
                (assigned, progress) = (_consumer.AssignedPartitions, null);
            }

            if (tracker.Observe(assigned, progress) || tracker.GaveUp) return;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _group.Close();
        _group.Dispose();
    }
}
