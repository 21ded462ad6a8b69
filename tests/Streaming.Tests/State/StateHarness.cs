using System.Text;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Storage;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>One input message at a fixed (kind, partition, offset), as Kafka would hold it.</summary>
internal sealed record InputMessage(SourceKind Kind, int Partition, long Offset, string Key, byte[] Value);

/// <summary>
/// Drives a <see cref="StreamPipeline"/> with durable state the way the Kafka consumer does, without Kafka: partitions
/// resume at their stored offsets, messages go to their lanes at fixed offsets, and a checkpoint captures every lane's
/// state (a Checkpoint control chunk), then writes it through <see cref="StoreCheckpoints"/> and publishes it.
/// </summary>
internal sealed class StateHarness : IAsyncDisposable
{
    private readonly StoreCheckpoints _checkpoints;
    private readonly Dictionary<(SourceKind, int), PartitionState> _partitions = [];
    private readonly Streaming.Changelog.IChangelog? _changelog;
    private long _sequence;

    public StateHarness(IReadOnlyDictionary<SourceKind, LstmModel> models, PipelineOptions options, IStateStore? store, bool eager = false, TimeSpan? keyTtl = null,
        Streaming.Online.OnlineLearning? online = null, Streaming.Changelog.IChangelog? changelog = null)
    {
        Output = new CollectingOutput();
        Store = store;
        _changelog = changelog;
        _checkpoints = store is null ? null! : new StoreCheckpoints(store, changelog);
        Pipeline = new StreamPipeline(options, models, [Output], new CountingDeadLetterSink(), state: store is null ? null : new DurableState(store, eager, keyTtl, changelog));
        if (online is not null) Pipeline.AttachOnline(online);
        Pipeline.Start();
    }

    public StreamPipeline Pipeline { get; }

    public CollectingOutput Output { get; }

    public IStateStore? Store { get; }

    /// <summary>The partition's state; on first use it resumes where the store says (as the consumer's assignment does).</summary>
    public PartitionState Partition(SourceKind kind, int partition)
    {
        if (_partitions.TryGetValue((kind, partition), out var ps)) return ps;
        ps = new PartitionState(kind.ToWireName(), partition, kind, KafkaIngestConsumer.LaneOf((int)kind, partition, Pipeline.Lanes.Count));
        // With a changelog the partition's store is first brought up to it (a partition that moved here), as on assignment.
        var stored = Store is null ? -1 : _changelog is null ? Store.ReadOffset(kind, partition) : _checkpoints.StoredOffset(ps);
        if (stored >= 0)
        {
            ps.StateOffset = stored;
            ps.ReadOffset = stored;
            ps.MarkCommittable(stored);
        }

        _partitions[(kind, partition)] = ps;
        var assigned = Pipeline.Pool.RentControl(ChunkKind.Assigned, [ps]);
        Pipeline.Lanes[ps.Lane].Writer.TryWrite(assigned);
        return ps;
    }

    /// <summary>Where the partition resumes (the stored offset, or 0).</summary>
    public long ResumeAt(SourceKind kind, int partition) => Math.Max(0, Partition(kind, partition).ReadOffset);

    public async Task SendAsync(IEnumerable<InputMessage> messages, int chunkSize = 7)
    {
        var filling = new MessageChunk?[Pipeline.Lanes.Count];
        foreach (var m in messages)
        {
            var ps = Partition(m.Kind, m.Partition);
            var chunk = filling[ps.Lane] ??= new MessageChunk(chunkSize, null);
            chunk.Add(ps, Encoding.UTF8.GetBytes(m.Key), m.Value, m.Offset, System.Diagnostics.Stopwatch.GetTimestamp());
            if (!chunk.IsFull) continue;
            filling[ps.Lane] = null;
            await Pipeline.Lanes[ps.Lane].Writer.WriteAsync(chunk);
        }

        for (var lane = 0; lane < filling.Length; lane++)
        {
            if (filling[lane] is { } c) await Pipeline.Lanes[lane].Writer.WriteAsync(c);
        }
    }

    /// <summary>One checkpoint as the durability barrier takes it: capture on every lane, write, publish. Returns the capture's records.</summary>
    public async Task<int> CheckpointAsync()
    {
        var capture = new CheckpointCapture(++_sequence, Pipeline.Lanes.Count);
        var waits = new List<Task>();
        foreach (var group in _partitions.Values.GroupBy(p => p.Lane))
        {
            var control = Pipeline.Pool.RentControl(ChunkKind.Checkpoint, group, capture);
            waits.Add(control.Done!.Task);
            await Pipeline.Lanes[group.Key].Writer.WriteAsync(control);
        }

        await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(30));
        var records = capture.Lanes.OfType<WorkerCheckpoint>().Sum(l => l.Batch.Count);
        _checkpoints.Write(capture);
        foreach (var part in capture.Partitions.Where(p => p.Written))
        {
            part.Partition.StateOffset = part.Offset;
            part.Partition.StateSequence = capture.Sequence;
        }

        capture.Release();
        return records;
    }

    /// <summary>Waits until the workers handled everything sent so far (a drain on every lane).</summary>
    public async Task DrainAsync()
    {
        var waits = new List<Task>();
        for (var lane = 0; lane < Pipeline.Lanes.Count; lane++)
        {
            var control = Pipeline.Pool.RentControl(ChunkKind.Drain, []);
            waits.Add(control.Done!.Task);
            await Pipeline.Lanes[lane].Writer.WriteAsync(control);
        }

        await Task.WhenAll(waits).WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync() => await Pipeline.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(30));

    /// <summary>Messages with Kafka-like placement: partition by key hash, offsets counted per (kind, partition).</summary>
    public static List<InputMessage> Place(IEnumerable<(SourceKind Kind, string Key, byte[] Value)> events, int partitions)
    {
        var next = new Dictionary<(SourceKind, int), long>();
        var list = new List<InputMessage>();
        foreach (var (kind, key, value) in events)
        {
            var p = Events.PartitionOf(key, partitions);
            var o = next.GetValueOrDefault((kind, p));
            next[(kind, p)] = o + 1;
            list.Add(new InputMessage(kind, p, o, key, value));
        }

        return list;
    }

    /// <summary>Rows by (source, key, partition, offset); a repeated row must equal the first bit for bit.</summary>
    public static Dictionary<(SourceKind, string, int, long), ForecastRow> Dedup(IEnumerable<ForecastRow> rows, out int duplicates)
    {
        var d = new Dictionary<(SourceKind, string, int, long), ForecastRow>();
        duplicates = 0;
        foreach (var r in rows)
        {
            var id = (r.Source, r.Key, r.Partition, r.Offset);
            if (d.TryGetValue(id, out var first))
            {
                duplicates++;
                AssertSame(first, r, "duplicate of " + id);
                continue;
            }

            d[id] = r;
        }

        return d;
    }

    public static void AssertSame(ForecastRow expected, ForecastRow actual, string what)
    {
        Assert.True(BitConverter.DoubleToInt64Bits(expected.Observed) == BitConverter.DoubleToInt64Bits(actual.Observed), $"{what}: observed differs");
        Assert.True(expected.Mu.AsSpan().SequenceEqual(actual.Mu), $"{what}: mu differs ({string.Join(",", expected.Mu)} vs {string.Join(",", actual.Mu)})");
        Assert.True(expected.Sigma.AsSpan().SequenceEqual(actual.Sigma), $"{what}: sigma differs");
    }
}
