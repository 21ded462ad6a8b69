using System.Diagnostics;
using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Ingest.Tests.Kafka;

public class NativeConsumerPollTests
{
    private const int Count = 60;

    [Fact]
    public void NativePoll_ReadsTheSameTopicPartitionOffsetKeyValueAndTimestamp_AsConsume_AndReportsPartitionEof()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("in", 2);
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build())
        {
            for (var i = 0; i < Count; i++)
            {
                producer.Produce(new TopicPartition("in", i % 2), new Message<byte[]?, byte[]?>
                {
                    Key = i % 5 == 0 ? null : [(byte)i, 1],
                    Value = i % 7 == 0 ? null : Enumerable.Range(0, i * 3).Select(b => (byte)(b + i)).ToArray(),
                    Timestamp = new Timestamp(1_700_000_000_000 + (i * 1000), TimestampType.CreateTime),
                });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var client = new List<string>();
        using (var consumer = Consumer(kafka.BootstrapServers, "client", eof: false))
        {
            var deadline = Stopwatch.StartNew();
            while (client.Count < Count && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is not { } r) continue;
                client.Add(Describe("in", r.Partition.Value, r.Offset.Value, r.Message.Key, r.Message.Value, r.Message.Timestamp.UnixTimestampMs));
            }

            consumer.Close();
        }

        Assert.True(client.Count == Count, $"client consume phase: {client.Count} of {Count} messages within 60 s");
        var native = new List<string>();
        var eofs = new HashSet<int>();
        using (var consumer = Consumer(kafka.BootstrapServers, "native", eof: true))
        {
            using var poll = new NativeConsumerPoll(consumer);
            var deadline = Stopwatch.StartNew();
            while ((native.Count < Count || eofs.Count < 2) && deadline.Elapsed < TimeSpan.FromSeconds(60))
            {
                var m = poll.Poll(100);
                if (m.IsNull) continue;
                if (m.Error == NativeConsumerPoll.ErrPartitionEof) eofs.Add(m.Partition);
                else if (m.Error == NativeConsumerPoll.ErrNoError)
                {
                    native.Add(Describe(System.Text.Encoding.UTF8.GetString(m.Topic), m.Partition, m.Offset, m.HasKey ? m.Key.ToArray() : null, m.HasValue ? m.Value.ToArray() : null, m.TimestampMs));
                }

                NativeConsumerPoll.Destroy(m);
            }

            consumer.Close();
        }

        Assert.True(native.Count == Count, $"native poll phase: {native.Count} of {Count} messages within 60 s");
        // Per partition in offset order: the interleaving of the two partitions may differ between two reads.
        Assert.Equal(client.Order(StringComparer.Ordinal), native.Order(StringComparer.Ordinal));
        Assert.Equal([0, 1], eofs.Order());
        Assert.Contains(native, d => d.Contains("key=null", StringComparison.Ordinal));
        Assert.Contains(native, d => d.Contains("value=null", StringComparison.Ordinal));
    }

    [Fact]
    public void ErrorText_IsTheLibrarysText() =>
        Assert.Contains("Broker: No more messages", NativeConsumerPoll.ErrorText(NativeConsumerPoll.ErrPartitionEof), StringComparison.Ordinal);

    private static IConsumer<byte[]?, byte[]?> Consumer(string bootstrap, string group, bool eof)
    {
        var c = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = group, AutoOffsetReset = AutoOffsetReset.Earliest, EnablePartitionEof = eof,
        }).Build();
        c.Subscribe("in");
        return c;
    }

    private static string Describe(string topic, int partition, long offset, byte[]? key, byte[]? value, long timestampMs) =>
        $"{topic}[{partition}]@{offset:D6} key={(key is null ? "null" : Convert.ToHexString(key))} value={(value is null ? "null" : Convert.ToHexString(value))} ts={timestampMs}";
}
