using System.Collections.Concurrent;
using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Consumer;

/// <summary>The native consume path against the client path: same messages, same bytes, same rebalance behaviour.</summary>
public class ConsumePathTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task BothPaths_HandOverEveryMessageOnce_InOrderPerPartition_WithTheSameKeyValueAndOffset()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("in", 3);
        var produced = new Dictionary<int, List<(byte[]? Key, byte[]? Value)>> { [0] = [], [1] = [], [2] = [] };
        var random = new Random(7);
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build())
        {
            for (var i = 0; i < 600; i++)
            {
                // Null and empty keys and values (bad messages) and a few large values (the chunk's buffer must grow).
                byte[]? key = (i % 7) switch { 0 => null, 1 => [], _ => System.Text.Encoding.UTF8.GetBytes($"k{i}") };
                byte[]? value = (i % 11) switch { 0 => null, 1 => [], _ => System.Text.Encoding.UTF8.GetBytes($"{{\"v\":{i}}}") };
                if (i % 13 == 2)
                {
                    value = new byte[20_000];
                    random.NextBytes(value);
                }

                producer.Produce(new TopicPartition("in", i % 3), new Message<byte[]?, byte[]?> { Key = key, Value = value });
                produced[i % 3].Add((key, value));
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var client = await ConsumeAllAsync(kafka.BootstrapServers, ConsumePath.Client, 600);
        var native = await ConsumeAllAsync(kafka.BootstrapServers, ConsumePath.Native, 600);
        foreach (var partition in produced.Keys)
        {
            // Exactly once, in offset order, per partition.
            Assert.Equal(Enumerable.Range(0, produced[partition].Count).Select(o => (long)o), native[partition].Select(m => m.Offset));
            Assert.Equal(client[partition].Select(m => m.Offset), native[partition].Select(m => m.Offset));
            for (var i = 0; i < produced[partition].Count; i++)
            {
                var (c, n, p) = (client[partition][i], native[partition][i], produced[partition][i]);
                Assert.Equal(p.Key ?? [], n.Key ?? []);
                Assert.Equal(p.Value ?? [], n.Value ?? []);
                // Null (absent) stays null on both paths, exactly as the client path reports it.
                Assert.Equal(c.Key is null, n.Key is null);
                Assert.Equal(c.Value is null, n.Value is null);
                Assert.Equal(c.Key, n.Key);
                Assert.Equal(c.Value, n.Value);
                if (p.Key is null) Assert.Null(n.Key);
                if (p.Value is null) Assert.Null(n.Value);
            }
        }
    }

    [Theory]
    [InlineData(ConsumePath.Client)]
    [InlineData(ConsumePath.Native)]
    public async Task SecondConsumerJoining_MovesPartitions_WithoutLossOrDuplicates(ConsumePath path)
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("in", 4);
        Produce(kafka.BootstrapServers, 0, 400);
        var a = new Member(kafka.BootstrapServers, path);
        var b = new Member(kafka.BootstrapServers, path);
        a.Start();
        // Distinct offsets: a member that falls back to at-least-once (see below) may hand some over twice.
        Assert.True(SpinWait.SpinUntil(() => a.Seen.Distinct().Count() == 400, Phase),
            $"first member phase: {a.Seen.Distinct().Count()} of 400 distinct ({a.Seen.Count} in all) within {Phase}; warnings: {string.Join(" | ", a.Warnings)}");

        b.Start();
        Assert.True(SpinWait.SpinUntil(() => a.Consumer.AssignedPartitions + b.Consumer.AssignedPartitions == 4 && b.Consumer.AssignedPartitions > 0 && a.Consumer.AssignedPartitions > 0, Phase),
            $"rebalance phase: assigned {a.Consumer.AssignedPartitions} + {b.Consumer.AssignedPartitions} of 4 within {Phase}");
        Produce(kafka.BootstrapServers, 400, 400);
        Assert.True(SpinWait.SpinUntil(() => a.Seen.Count + b.Seen.Count >= 800, Phase), $"second batch phase: {a.Seen.Count + b.Seen.Count} of 800 within {Phase}");
        await b.StopAsync();
        await a.StopAsync();

        // Every offset of every partition was handed over (no loss), each member's in offset order; exactly once unless a
        // member fell back to at-least-once, which it always says in a warning (a lost partition under load — a missed
        // session — a failed commit or a drain timeout): then the next owner re-reads from the last commit.
        var all = a.Seen.Concat(b.Seen).ToList();
        Assert.Equal(800, all.Distinct().Count());
        var warnings = a.Warnings.Concat(b.Warnings).ToList();
        if (warnings.Count == 0) Assert.True(all.Count == 800, $"{all.Count - 800} messages were handed over twice without a warning saying why");
        else Assert.All(warnings, w => Assert.Matches("Lost|Commit failed|did not drain|did not take", w));
        foreach (var member in new[] { a, b })
        {
            foreach (var g in member.Seen.GroupBy(m => m.Partition))
            {
                var offsets = g.Select(m => m.Offset).ToList();
                Assert.Equal(offsets.Order(), offsets);
            }
        }

        Assert.True(b.Seen.Count > 0, "the joining member took over partitions and read their new messages");
    }

    [Fact]
    public void NativePath_UnderExactlyOnce_IsRefusedWhenTheConsumerIsMade()
    {
        var ex = Assert.Throws<ArgumentException>(() => new KafkaIngestConsumer(new KafkaConsumerOptions { ConsumePath = ConsumePath.Native }, [Channel.CreateBounded<MessageChunk>(1)], 16,
            new MessageChunkPool(16), NullLogger.Instance, state: new NoCheckpoints(), transactions: new NoTransaction()));
        Assert.Contains("Kafka:ConsumePath=native is not supported with exactly-once", ex.Message, StringComparison.Ordinal);
    }

    private static void Produce(string bootstrap, int from, int count)
    {
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = bootstrap }).Build();
        for (var i = from; i < from + count; i++)
        {
            producer.Produce(new TopicPartition("in", i % 4), new Message<byte[], byte[]> { Key = BitConverter.GetBytes(i), Value = BitConverter.GetBytes(i) });
        }

        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
    }

    /// <summary>Runs one consumer over the topic until <paramref name="expected"/> messages reached its lane; returns them per partition.</summary>
    private static async Task<Dictionary<int, List<(long Offset, byte[]? Key, byte[]? Value)>>> ConsumeAllAsync(string bootstrap, ConsumePath path, int expected)
    {
        // A one-chunk lane and small chunks: the lane fills, its partitions pause, chunks are held (and coalesced) and resumed.
        var lane = Channel.CreateBounded<MessageChunk>(1);
        var pool = new MessageChunkPool(16);
        var consumer = new KafkaIngestConsumer(new KafkaConsumerOptions
        {
            BootstrapServers = bootstrap, GroupId = "same-bytes-" + path, Topics = new() { ["in"] = SourceKind.Tick }, ConsumePath = path,
        }, [lane], 64, pool, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => consumer.Run(stop.Token));
        thread.Start();
        Assert.True(SpinWait.SpinUntil(() => consumer.Pauses > 0, Phase), $"{path} backpressure phase: the lane never paused within {Phase}");
        var seen = new Dictionary<int, List<(long, byte[]?, byte[]?)>> { [0] = [], [1] = [], [2] = [] };
        var count = 0;
        await foreach (var chunk in lane.Reader.ReadAllAsync(TestContext.Current.CancellationToken).WithCancellation(TestContext.Current.CancellationToken))
        {
            if (chunk.Kind == ChunkKind.Messages)
            {
                for (var i = 0; i < chunk.Count; i++)
                {
                    seen[chunk.Partitions[i].Partition].Add((chunk.Offsets[i], chunk.KeyArray(i), chunk.ValueArray(i)));
                    chunk.Partitions[i].MarkCommittable(chunk.Offsets[i] + 1);
                }

                count += chunk.Count;
            }

            chunk.Done?.TrySetResult();
            chunk.Release();
            if (count >= expected) break;
        }

        await stop.CancelAsync();
        // The shutdown's drain control chunk needs a reader.
        var drain = Task.Run(async () =>
        {
            await foreach (var chunk in lane.Reader.ReadAllAsync())
            {
                count += chunk.Kind == ChunkKind.Messages ? chunk.Count : 0;
                chunk.Done?.TrySetResult();
                chunk.Release();
            }
        }, TestContext.Current.CancellationToken);
        Assert.True(thread.Join(Phase), $"{path} shutdown phase: consumer did not close within {Phase}");
        lane.Writer.Complete();
        await drain.WaitAsync(Phase, TestContext.Current.CancellationToken);
        Assert.Equal(expected, count);
        return seen;
    }

    /// <summary>One group member playing its worker: every message is handed over as soon as it is read.</summary>
    private sealed class Member
    {
        private readonly Channel<MessageChunk> _lane = Channel.CreateBounded<MessageChunk>(8);
        private readonly CancellationTokenSource _stop = new();
        private readonly List<(int Partition, long Offset)> _seen = [];
        private Thread? _thread;
        private Task? _reader;

        public Member(string bootstrap, ConsumePath path) =>
            Consumer = new KafkaIngestConsumer(new KafkaConsumerOptions
            {
                BootstrapServers = bootstrap, GroupId = "rebalance", Topics = new() { ["in"] = SourceKind.Tick }, ConsumePath = path, CommitInterval = TimeSpan.FromMilliseconds(100),
                // The mock coordinator holds a join round for up to the session timeout: keep it short so the rebalance takes seconds.
                Extra = new() { ["session.timeout.ms"] = "6000", ["heartbeat.interval.ms"] = "500" },
            }, [_lane], 8 * 16, new MessageChunkPool(16), new WarningLog(Warnings));

        public KafkaIngestConsumer Consumer { get; }

        /// <summary>Warnings and errors the member logged.</summary>
        public ConcurrentQueue<string> Warnings { get; } = new();

        public IReadOnlyList<(int Partition, long Offset)> Seen
        {
            get
            {
                lock (_seen) return [.. _seen];
            }
        }

        public void Start()
        {
            _reader = Task.Run(async () =>
            {
                await foreach (var chunk in _lane.Reader.ReadAllAsync())
                {
                    for (var i = 0; i < chunk.Count && chunk.Kind == ChunkKind.Messages; i++)
                    {
                        lock (_seen) _seen.Add((chunk.Partitions[i].Partition, chunk.Offsets[i]));
                        chunk.Partitions[i].MarkCommittable(chunk.Offsets[i] + 1);
                    }

                    chunk.Done?.TrySetResult();
                    chunk.Release();
                }
            });
            _thread = new Thread(() => Consumer.Run(_stop.Token));
            _thread.Start();
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            Assert.True(_thread!.Join(Phase), $"shutdown phase: a member did not close within {Phase}");
            _lane.Writer.Complete();
            await _reader!.WaitAsync(Phase);
        }
    }

    /// <summary>Keeps the consumer's warnings and errors (librdkafka's own lines are left out: they are not fallbacks).</summary>
    private sealed class WarningLog(ConcurrentQueue<string> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = formatter(state, exception);
            if (logLevel >= LogLevel.Warning && !text.StartsWith("librdkafka ", StringComparison.Ordinal)) lines.Enqueue(text);
        }
    }

    private sealed class NoCheckpoints : IStateCheckpoints
    {
        public long StoredOffset(PartitionState partition) => -1;

        public void Write(CheckpointCapture capture)
        {
        }
    }

    private sealed class NoTransaction : ICheckpointTransaction
    {
        public void Commit(IReadOnlyList<TopicPartitionOffset> offsets, IConsumerGroupMetadata group)
        {
        }

        public void Begin()
        {
        }

        public void Abort()
        {
        }
    }
}
