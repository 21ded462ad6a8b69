using System.Threading.Channels;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Consumer;

public class KafkaIngestConsumerTests
{
    [Theory]
    [InlineData(ConsumePath.Client)]
    [InlineData(ConsumePath.Native)]
    public async Task Offsets_AreCommittedOnlyUpToWhatWorkersMarkedHandedOver(ConsumePath path)
    {
        using var kafka = EmbeddedKafka.Start();
        kafka.CreateTopic("in", 2);
        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build())
        {
            for (var i = 0; i < 100; i++)
            {
                producer.Produce(new TopicPartition("in", i % 2), new Message<byte[], byte[]> { Key = [(byte)i], Value = [(byte)i] });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var lane = Channel.CreateBounded<MessageChunk>(8);
        var pool = new MessageChunkPool(16);
        var consumer = new KafkaIngestConsumer(new KafkaConsumerOptions
        {
            BootstrapServers = kafka.BootstrapServers,
            GroupId = "g",
            Topics = new() { ["in"] = SourceKind.Tick },
            CommitInterval = TimeSpan.FromMilliseconds(100),
            ConsumePath = path,
        }, [lane], 8 * 16, pool, NullLogger.Instance);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => consumer.Run(stop.Token));
        thread.Start();

        // Play the worker: take every message; mark only partition 0 as handed over.
        var seen = new Dictionary<int, List<long>> { [0] = [], [1] = [] };
        var states = new Dictionary<int, PartitionState>();
        var reader = Task.Run(async () =>
        {
            await foreach (var chunk in lane.Reader.ReadAllAsync(TestContext.Current.CancellationToken))
            {
                if (chunk.Kind != ChunkKind.Messages)
                {
                    chunk.Done?.TrySetResult();
                    chunk.Release();
                    continue;
                }

                for (var i = 0; i < chunk.Count; i++)
                {
                    var ps = chunk.Partitions[i];
                    states[ps.Partition] = ps;
                    lock (seen) seen[ps.Partition].Add(chunk.Offsets[i]);
                    if (ps.Partition == 0) ps.MarkCommittable(chunk.Offsets[i] + 1);
                }

                chunk.Release();
            }
        }, TestContext.Current.CancellationToken);

        Assert.True(SpinWait.SpinUntil(() => { lock (seen) return seen[0].Count + seen[1].Count == 100; }, TimeSpan.FromSeconds(60)),
            "consume phase: not all 100 messages reached the lane within 60 s");
        await stop.CancelAsync();
        Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "shutdown phase: consumer did not close within 60 s");
        lane.Writer.Complete();
        await reader.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), seen[0]);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => (long)i), seen[1]);
        using var check = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "g" }).Build();
        var committed = check.Committed([new TopicPartition("in", 0), new TopicPartition("in", 1)], TimeSpan.FromSeconds(30));
        Assert.Equal(50, committed.Single(c => c.Partition.Value == 0).Offset.Value);
        Assert.True(committed.Single(c => c.Partition.Value == 1).Offset.Value < 0, "partition 1 was never handed over, so nothing may be committed for it");
    }
}
