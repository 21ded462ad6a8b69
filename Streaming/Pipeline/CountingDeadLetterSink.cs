using System.Collections.Concurrent;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Decoding;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>An in-process dead-letter sink (benchmarks, in-process sources): counts and keeps the last few entries.</summary>
public sealed class CountingDeadLetterSink : IDeadLetterSink
{
    private long _dead;
    private long _late;

    /// <summary>Recent entries (bounded to 1000).</summary>
    public ConcurrentQueue<(DeadLetterReason Reason, string Topic, int Partition, long Offset)> Recent { get; } = new();

    /// <summary>Dead letters.</summary>
    public long DeadLetters => Interlocked.Read(ref _dead);

    /// <summary>Late events.</summary>
    public long LateEvents => Interlocked.Read(ref _late);

    /// <inheritdoc />
    public void DeadLetter(DeadLetterReason reason, PartitionState partition, long offset, byte[]? key, byte[]? value)
    {
        Interlocked.Increment(ref _dead);
        Remember(reason, partition, offset);
    }

    /// <inheritdoc />
    public void Late(PartitionState partition, long offset, byte[]? key, byte[]? value, long lastTimestampMs)
    {
        Interlocked.Increment(ref _late);
        Remember(DeadLetterReason.None, partition, offset);
    }

    /// <inheritdoc />
    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private void Remember(DeadLetterReason reason, PartitionState partition, long offset)
    {
        Recent.Enqueue((reason, partition.Topic, partition.Partition, offset));
        while (Recent.Count > 1000) Recent.TryDequeue(out _);
    }
}
