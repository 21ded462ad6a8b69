using System.Diagnostics;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// Feeds a <see cref="StreamPipeline"/> without Kafka: messages are appended to virtual partitions (offsets counted per
/// partition, partition-affine lanes as with Kafka) and written as chunks with the same bounded-channel backpressure.
/// Used by the core benchmark and by tests. Not thread-safe: one writer thread.
/// </summary>
public sealed class InProcessSource
{
    private readonly StreamPipeline _pipeline;
    private readonly Dictionary<(SourceKind, int), PartitionState> _partitions = [];
    private readonly PartitionState?[][] _byKind = [[], [], []];
    private readonly long[][] _next = [[], [], []];
    private readonly MessageChunk?[] _filling;

    /// <summary>Creates a source for <paramref name="pipeline"/>.</summary>
    /// <param name="pipeline">Pipeline to feed.</param>
    public InProcessSource(StreamPipeline pipeline)
    {
        _pipeline = pipeline;
        _filling = new MessageChunk?[pipeline.Lanes.Count];
    }

    /// <summary>The virtual partition's state (created on first use; topic name is the kind's wire name).</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Partition number.</param>
    /// <returns>The state.</returns>
    public PartitionState Partition(SourceKind kind, int partition)
    {
        if (!_partitions.TryGetValue((kind, partition), out var ps))
        {
            ps = new PartitionState(kind.ToWireName(), partition, kind, KafkaIngestConsumer.LaneOf((int)kind, partition, _pipeline.Lanes.Count));
            _partitions[(kind, partition)] = ps;
        }

        return ps;
    }

    /// <summary>Next offset of a virtual partition.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Partition.</param>
    /// <returns>The offset the next message gets.</returns>
    public long NextOffset(SourceKind kind, int partition) =>
        partition < _next[(int)kind].Length ? _next[(int)kind][partition] : 0;

    /// <summary>Appends one message; it is sent when its lane's chunk is full or on <see cref="FlushAsync"/>.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="partition">Virtual partition.</param>
    /// <param name="key">Key bytes.</param>
    /// <param name="value">JSON value bytes.</param>
    /// <param name="ct">Cancels waiting for room.</param>
    /// <returns>A task that completes when the message is buffered.</returns>
    public ValueTask AddAsync(SourceKind kind, int partition, byte[]? key, byte[]? value, CancellationToken ct = default)
    {
        // Array lookups, not dictionaries: this runs once per event.
        var k = (int)kind;
        if (partition >= _byKind[k].Length)
        {
            Array.Resize(ref _byKind[k], partition + 1);
            Array.Resize(ref _next[k], partition + 1);
        }

        var ps = _byKind[k][partition] ??= Partition(kind, partition);
        var offset = _next[k][partition]++;
        var chunk = _filling[ps.Lane] ??= _pipeline.Pool.Rent();
        chunk.Add(ps, key, value, offset, Stopwatch.GetTimestamp());
        if (!chunk.IsFull) return ValueTask.CompletedTask;
        _filling[ps.Lane] = null;
        return _pipeline.Lanes[ps.Lane].Writer.WriteAsync(chunk, ct);
    }

    /// <summary>Sends every partly filled chunk.</summary>
    /// <param name="ct">Cancels waiting for room.</param>
    /// <returns>A task that completes when all are written.</returns>
    public async ValueTask FlushAsync(CancellationToken ct = default)
    {
        for (var lane = 0; lane < _filling.Length; lane++)
        {
            if (_filling[lane] is { } chunk)
            {
                _filling[lane] = null;
                await _pipeline.Lanes[lane].Writer.WriteAsync(chunk, ct).ConfigureAwait(false);
            }
        }
    }
}
