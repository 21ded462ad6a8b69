using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Ingest.Tests.Kafka;

public class EmbeddedKafkaTests
{
    [Fact]
    public void ProduceThenConsume_ThroughMockCluster_RoundTripsEveryMessageInOrder()
    {
        using var kafka = EmbeddedKafka.Start(brokers: 3);
        kafka.CreateTopic("roundtrip", partitions: 4);
        Assert.Equal(3, kafka.BootstrapServers.Split(',').Length);

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, EnableIdempotence = true }).Build())
        {
            for (var i = 0; i < 200; i++)
            {
                producer.Produce("roundtrip", new Message<string, string> { Key = "k" + (i % 7), Value = i.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "g1",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("roundtrip");
        var perKey = new Dictionary<string, List<int>>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var count = 0;
        while (count < 200)
        {
            Assert.True(DateTime.UtcNow < deadline, $"consume phase timed out after {count} of 200 messages");
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null)
            {
                continue;
            }

            count++;
            if (!perKey.TryGetValue(r.Message.Key, out var list))
            {
                perKey[r.Message.Key] = list = [];
            }

            list.Add(int.Parse(r.Message.Value, System.Globalization.CultureInfo.InvariantCulture));
        }

        consumer.Close();
        Assert.Equal(7, perKey.Count);
        foreach (var (_, values) in perKey)
        {
            Assert.Equal(values.Order(), values);
        }
    }

    [Fact]
    public void DeleteRecordsBefore_MovesTheLogStart_AndAConsumerFromEarliestStartsThere()
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("trimmed", partitions: 1);
        using (var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers, LingerMs = 0 }).Build())
        {
            // One message set per message: a cut can fall between any two.
            for (var i = 0; i < 10; i++)
            {
                producer.Produce("trimmed", new Message<Null, string> { Value = i.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
            }
        }

        kafka.DeleteRecordsBefore("trimmed", 0, 6);

        using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "g-trimmed",
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        var watermarks = consumer.QueryWatermarkOffsets(new TopicPartition("trimmed", 0), TimeSpan.FromSeconds(10));
        Assert.Equal(6, watermarks.Low.Value);
        Assert.Equal(10, watermarks.High.Value);
        consumer.Subscribe("trimmed");
        var deadline = DateTime.UtcNow.AddSeconds(60);
        ConsumeResult<Ignore, string>? first = null;
        while (first is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "consume phase: no message within 60 s");
            first = consumer.Consume(TimeSpan.FromMilliseconds(200));
        }

        Assert.Equal(6, first.Offset.Value);
        Assert.Equal("6", first.Message.Value);
        consumer.Close();
    }
}
