using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Consumer;

public class KafkaDeadLetterSinkTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task FullProducerQueue_IsWaitedOut_NotThrown()
    {
        // Before: the queue-full path called Poll() on a producer that polls in the background, which throws.
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("dlq", 1);
        kafka.CreateTopic("late", 1);
        using var sink = new KafkaDeadLetterSink(kafka.BootstrapServers, "dlq", "late", NullLogger.Instance, extra: new Dictionary<string, string> { ["queue.buffering.max.messages"] = "5" });
        var ps = new PartitionState("ticks", 3, SourceKind.Tick, 0);
        for (var i = 0; i < 500; i++) sink.DeadLetter(DeadLetterReason.MalformedJson, ps, i, [(byte)i], Encoding.UTF8.GetBytes("{bad " + i));
        await sink.FlushAsync(CancellationToken.None).AsTask().WaitAsync(Phase, TestContext.Current.CancellationToken);
        Assert.Equal(500, Read(kafka.BootstrapServers, "dlq", 500).Count);
        Assert.Equal(0, sink.FailedDeliveries);
    }

    [Fact]
    public async Task ValueLargerThanTheProducerAllows_IsTruncatedWithItsSize_NotFatal()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("dlq", 1);
        using var sink = new KafkaDeadLetterSink(kafka.BootstrapServers, "dlq", "late", NullLogger.Instance);
        var huge = new byte[3_000_000];
        huge.AsSpan().Fill((byte)'x');
        sink.DeadLetter(DeadLetterReason.Oversized, new PartitionState("ticks", 0, SourceKind.Tick, 0), 7, "k"u8.ToArray(), huge);
        await sink.FlushAsync(CancellationToken.None).AsTask().WaitAsync(Phase, TestContext.Current.CancellationToken);
        var r = Assert.Single(Read(kafka.BootstrapServers, "dlq", 1));
        Assert.True(r.Message.Headers.TryGetLastBytes("value.truncated", out var size));
        Assert.Equal("3000000", Encoding.UTF8.GetString(size));
        Assert.True(r.Message.Value.Length < KafkaDeadLetterSink.MaxMessageBytes);
        Assert.Equal("oversized", Encoding.UTF8.GetString(r.Message.Headers.GetLastBytes("reason")));
        Assert.Equal(0, sink.FailedDeliveries);
    }

    [Fact]
    public async Task DeliveryThatFailsForGood_HoldsItsInputOffset()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("dlq", 1);
        kafka.SetTopicError("dlq", ErrorCode.TopicAuthorizationFailed);
        var failures = new DeliveryFailures();
        using var sink = new KafkaDeadLetterSink(kafka.BootstrapServers, "dlq", "late", NullLogger.Instance, failures,
            new Dictionary<string, string> { ["message.timeout.ms"] = "3000" });
        var ps = new PartitionState("vitals", 2, SourceKind.Vitals, 0);
        sink.DeadLetter(DeadLetterReason.MissingKey, ps, 41, null, "{}"u8.ToArray());
        sink.DeadLetter(DeadLetterReason.MissingKey, ps, 42, null, "{}"u8.ToArray());
        await sink.FlushAsync(CancellationToken.None).AsTask().WaitAsync(Phase, TestContext.Current.CancellationToken);
        Assert.Equal(2, sink.FailedDeliveries);
        Assert.Equal(41, failures.Held[(SourceKind.Vitals, 2)]);
        Assert.Equal(41, failures.Cap(SourceKind.Vitals, 2, 100));
        Assert.Equal(100, failures.Cap(SourceKind.Vitals, 1, 100));
    }

    private static List<ConsumeResult<byte[], byte[]>> Read(string bootstrap, string topic, int expected)
    {
        using var c = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = Guid.NewGuid().ToString("N"), AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        c.Subscribe(topic);
        var list = new List<ConsumeResult<byte[], byte[]>>();
        var deadline = DateTime.UtcNow + Phase;
        while (list.Count < expected)
        {
            Assert.True(DateTime.UtcNow < deadline, $"read phase: {list.Count} of {expected} from {topic}");
            if (c.Consume(TimeSpan.FromMilliseconds(100)) is { } r) list.Add(r);
        }

        return list;
    }
}
