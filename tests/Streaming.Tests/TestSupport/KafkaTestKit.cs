using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Tests.TestSupport;

public static class KafkaTestKit
{
    public static readonly Dictionary<SourceKind, string> Topics = new()
    {
        [SourceKind.Tick] = "ticks",
        [SourceKind.Vitals] = "vitals",
        [SourceKind.Audio] = "audio-features",
    };

    /// <summary>An embedded cluster with the pipeline's topics. The mock broker keeps only ~5 MB (or 100 K messages) per
    /// partition, so tests that dead-letter large values give the DLQ more partitions.</summary>
    public static EmbeddedKafka StartCluster(int ticksPartitions = 4, int dlqPartitions = 1)
    {
        var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("ticks", ticksPartitions);
        kafka.CreateTopic("vitals", 3);
        kafka.CreateTopic("audio-features", 2);
        kafka.CreateTopic("forecasts", 2);
        kafka.CreateTopic("streamlstm.dlq", dlqPartitions);
        kafka.CreateTopic("late", 1);
        kafka.CreateTopic("alerts", 1);
        // State changelogs (State:Directory runs): the mock does not serve CreateTopics.
        kafka.CreateTopic("streamlstm.changelog.tick", ticksPartitions);
        kafka.CreateTopic("streamlstm.changelog.vitals", 3);
        kafka.CreateTopic("streamlstm.changelog.audio", 2);
        return kafka;
    }

    public static void Produce(string bootstrap, IEnumerable<(string Topic, byte[]? Key, byte[] Value)> messages)
    {
        using var producer = new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true, LingerMs = 2 }).Build();
        foreach (var (topic, key, value) in messages)
        {
            producer.Produce(topic, new Message<byte[]?, byte[]> { Key = key, Value = value });
        }

        Assert.True(producer.Flush(TimeSpan.FromSeconds(60)) == 0, "produce phase: messages still undelivered after 60 s");
    }

    public static IEnumerable<(string, byte[]?, byte[])> AsMessages(IEnumerable<(SourceKind Kind, string Key, byte[] Value)> events) =>
        events.Select(e => (Topics[e.Kind], (byte[]?)Encoding.UTF8.GetBytes(e.Key), e.Value));

    public static IHost BuildHost(string bootstrap, IReadOnlyDictionary<SourceKind, LstmModel> models, IEnumerable<Model.Forecasting.IForecastOutput> outputs, string group = "test", Dictionary<string, string?>? extra = null,
        Action<IServiceCollection>? services = null)
    {
        var overrides = new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = bootstrap,
            ["Kafka:GroupId"] = group,
            ["Kafka:CommitInterval"] = "00:00:00.200",
            ["Pipeline:Workers"] = "2",
            ["Pipeline:MaxBatch"] = "16",
            ["Pipeline:ChunkSize"] = "64",
            ["Pipeline:MaxWait"] = "00:00:00.001",
            ["Logging:LogLevel:Default"] = "Warning",
            // Pipeline tests collect forecasts in memory; the sink (InfluxDB/file + alerts) is switched on by the tests that check it.
            ["Sink:Enabled"] = "false",
        };
        if (extra is not null)
        {
            foreach (var (k, v) in extra) overrides[k] = v;
        }

        return StreamLstmHost.CreateBuilder([], b =>
        {
            b.Services.AddSingleton(new PipelineModels(models));
            foreach (var o in outputs) b.Services.AddSingleton(o);
            services?.Invoke(b.Services);
        }, overrides).Build();
    }

    /// <summary>Reads every message of <paramref name="topic"/> until <paramref name="expected"/> arrived.</summary>
    public static List<ConsumeResult<byte[]?, byte[]?>> ReadAll(string bootstrap, string topic, int expected, TimeSpan timeout, string phase)
    {
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "reader-" + Guid.NewGuid().ToString("N"),
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var list = new List<ConsumeResult<byte[]?, byte[]?>>();
        var deadline = DateTime.UtcNow + timeout;
        while (list.Count < expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{phase}: read {list.Count} of {expected} messages from '{topic}' within {timeout.TotalSeconds:0}s");
            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } r) list.Add(r);
        }

        consumer.Close();
        return list;
    }

    public static string Header(ConsumeResult<byte[]?, byte[]?> r, string name) =>
        r.Message.Headers.TryGetLastBytes(name, out var b) ? Encoding.UTF8.GetString(b) : "";

    public static long[] EndOffsets(IConsumer<byte[], byte[]> c, TopicPartition[] parts) =>
        [.. parts.Select(p => c.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(30)).High.Value)];

    public static long[] Committed(IConsumer<byte[], byte[]> c, TopicPartition[] parts)
    {
        var committed = c.Committed(parts, TimeSpan.FromSeconds(30));
        return [.. parts.Select(p => committed.Single(x => x.TopicPartition == p).Offset.Value)];
    }

    /// <summary>Waits until the group's committed offsets equal <paramref name="expected"/>.</summary>
    public static async Task WaitForCommitted(IConsumer<byte[], byte[]> c, TopicPartition[] parts, long[] expected, TimeSpan timeout, string phase)
    {
        var deadline = System.Diagnostics.Stopwatch.StartNew();
        long[] committed;
        while (!(committed = Committed(c, parts)).SequenceEqual(expected))
        {
            Assert.True(deadline.Elapsed < timeout, $"{phase}: committed [{string.Join(",", committed)}], expected [{string.Join(",", expected)}] within {timeout.TotalSeconds:0}s");
            await Task.Yield();
        }
    }

    /// <summary>
    /// A negative check needs a window: reads the committed offsets (a broker round trip each) for
    /// <paramref name="window"/> and at least 20 times, asserting each time that none is past <paramref name="atMost"/>.
    /// </summary>
    public static void AssertCommittedStaysAtMost(IConsumer<byte[], byte[]> c, TopicPartition[] parts, long[] atMost, TimeSpan window, string phase)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var reads = 0;
        while (sw.Elapsed < window || reads < 20)
        {
            var committed = Committed(c, parts);
            for (var p = 0; p < parts.Length; p++)
            {
                Assert.True(committed[p] <= atMost[p], $"{phase}: partition {parts[p].Partition.Value} committed {committed[p]} past {atMost[p]}");
            }

            reads++;
        }
    }
}
