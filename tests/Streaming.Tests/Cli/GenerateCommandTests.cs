using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Streaming.Broker;
using StreamLstm.Streaming.Generate;

namespace StreamLstm.Streaming.Tests.Cli;

/// <summary><c>streamlstm generate</c>: the same seed writes the same log, message for message, into any cluster.</summary>
public class GenerateCommandTests
{
    [Fact]
    public async Task SameSeed_TwoClusters_ByteIdenticalMessagesInTheSameOrderPerPartition()
    {
        using var a = StartBroker(3);
        using var b = StartBroker(3);
        using var c = StartBroker(3);
        var settings = new GenerateSettings { BootstrapServers = "", Events = 1500, Seed = 7, Symbols = 40, Patients = 20, AudioStreams = 30 };
        var outA = await Generate(settings with { BootstrapServers = a.BootstrapServers });
        var outB = await Generate(settings with { BootstrapServers = b.BootstrapServers });
        await Generate(settings with { BootstrapServers = c.BootstrapServers, Seed = 8 });
        Assert.Contains("delivered 1,500 of 1,500", outA, StringComparison.Ordinal);
        Assert.Contains("delivered 1,500 of 1,500", outB, StringComparison.Ordinal);

        var differsFromOtherSeed = false;
        foreach (var (_, topic, _, events) in settings.Plan())
        {
            var logA = ReadLog(a.BootstrapServers, topic, 3);
            var logB = ReadLog(b.BootstrapServers, topic, 3);
            var logC = ReadLog(c.BootstrapServers, topic, 3);
            Assert.Equal(events, logA.Sum(p => p.Count));
            Assert.All(logA, p => Assert.NotEmpty(p)); // keys spread over every partition
            for (var p = 0; p < 3; p++)
            {
                Assert.Equal(logA[p].Count, logB[p].Count);
                for (var i = 0; i < logA[p].Count; i++)
                {
                    Assert.True(logA[p][i].Key.AsSpan().SequenceEqual(logB[p][i].Key) && logA[p][i].Value.AsSpan().SequenceEqual(logB[p][i].Value),
                        $"{topic}[{p}]@{i} differs between two runs with the same seed");
                }

                differsFromOtherSeed |= logA[p].Count != logC[p].Count || logA[p].Zip(logC[p]).Any(x => !x.First.Value.AsSpan().SequenceEqual(x.Second.Value));
            }
        }

        Assert.True(differsFromOtherSeed, "another seed wrote the very same messages: the seed is not used");
    }

    [Fact]
    public async Task EventTimes_StartAtTheFixedInstant_NotTheWallClock()
    {
        using var kafka = StartBroker(1);
        await Generate(new GenerateSettings { BootstrapServers = kafka.BootstrapServers, Events = 30, Symbols = 5, Patients = 5, AudioStreams = 5 });
        foreach (var topic in new[] { "ticks", "vitals", "audio-features" })
        {
            var first = ReadLog(kafka.BootstrapServers, topic, 1)[0][0].Value;
            using var doc = System.Text.Json.JsonDocument.Parse(first);
            var ts = doc.RootElement.GetProperty("ts").GetInt64();
            Assert.InRange(ts, GenerateSettings.DefaultStartUnixMs, GenerateSettings.DefaultStartUnixMs + 60_000);
        }
    }

    [Fact]
    public async Task UnreachableCluster_ExitsNonZero_SayingSo()
    {
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0))
        {
            l.Start();
            port = ((IPEndPoint)l.LocalEndpoint).Port;
        }

        var error = new StringWriter();
        var code = await GenerateCommand.RunAsync(new GenerateSettings { BootstrapServers = $"127.0.0.1:{port}", Events = 10 }, TextWriter.Null, error, CancellationToken.None);
        Assert.Equal(1, code);
        Assert.Contains($"cannot reach Kafka at 127.0.0.1:{port}", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_SplitsTheEventsEvenly_AndSkipsKindsWithoutKeys()
    {
        var plan = new GenerateSettings { BootstrapServers = "x:1", Events = 10, Patients = 0 }.Plan();
        Assert.Equal([("ticks", 5L), ("audio-features", 5L)], plan.Select(p => (p.Topic, p.Events)));
        Assert.Equal([4L, 3L, 3L], new GenerateSettings { BootstrapServers = "x:1", Events = 10 }.Plan().Select(p => p.Events));
    }

    private static EmbeddedKafka StartBroker(int partitions)
    {
        var kafka = EmbeddedKafka.Start(brokers: 1);
        foreach (var topic in BrokerCommand.Topics) kafka.CreateTopic(topic, partitions);
        return kafka;
    }

    private static async Task<string> Generate(GenerateSettings settings)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = await GenerateCommand.RunAsync(settings, output, error, CancellationToken.None);
        Assert.True(code == 0, $"generate exited {code}: {error}");
        return output.ToString();
    }

    /// <summary>Every message of every partition of <paramref name="topic"/>, in offset order.</summary>
    private static List<List<(byte[] Key, byte[] Value)>> ReadLog(string bootstrap, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "log-reader", EnableAutoCommit = false }).Build();
        var log = new List<List<(byte[], byte[])>>();
        for (var p = 0; p < partitions; p++)
        {
            var tp = new TopicPartition(topic, p);
            var end = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30)).High.Value;
            consumer.Assign(new TopicPartitionOffset(tp, 0));
            var messages = new List<(byte[], byte[])>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (messages.Count < end)
            {
                Assert.True(DateTime.UtcNow < deadline, $"read {topic}[{p}]: {messages.Count} of {end} within 60 s");
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } r)
                {
                    Assert.Equal(messages.Count, r.Offset.Value);
                    messages.Add((r.Message.Key, r.Message.Value));
                }
            }

            log.Add(messages);
        }

        consumer.Close();
        return log;
    }
}
