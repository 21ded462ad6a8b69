using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Changelog;
using StreamLstm.Streaming.Storage;
using StreamLstm.Streaming.Storage.Memory;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>The changelog's mechanics against the embedded cluster: what a rebuild takes, and when it leaves the store alone.</summary>
public class ChangelogTests
{
    [Fact]
    public void Rebuild_TakesEachKeysNewestRecordUpToTheNewestMarker_AndIgnoresAnIncompletePublish()
    {
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("ticks", 2);
        kafka.CreateTopic("cl.tick", 2);
        using var changelog = new KafkaChangelog(kafka.BootstrapServers, "cl.", NullLogger.Instance);
        changelog.Publish([Checkpoint(1, 100, ("a", 1), ("b", 2))]);
        changelog.Publish([Checkpoint(1, 250, ("a", 3), ("c", 4))]);
        // Another partition's checkpoint in the same topic stays out of partition 1's rebuild.
        changelog.Publish([Checkpoint(0, 900, ("z", 9))]);
        // A publish that died before its marker: its record must not be part of the rebuilt state.
        using (var p = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = kafka.BootstrapServers }).Build())
        {
            p.Produce(new TopicPartition("cl.tick", 1), new Message<byte[], byte[]> { Key = ChangelogRecord.Key(1, "b"u8), Value = [77] });
            Assert.Equal(0, p.Flush(TimeSpan.FromSeconds(30)));
        }

        using var store = new MemoryStateStore();
        var result = changelog.Restore(SourceKind.Tick, "ticks", 1, store);

        Assert.True(result.Rebuilt, "an empty store was not rebuilt from the changelog");
        Assert.Equal(250, result.MarkerOffset);
        Assert.Equal(250, store.ReadOffset(SourceKind.Tick, 1));
        Assert.Equal(3, store.KeyCount(SourceKind.Tick, 1));
        Assert.Equal([3], Read(store, 1, "a"));
        Assert.Equal([2], Read(store, 1, "b"));
        Assert.Equal([4], Read(store, 1, "c"));
        Assert.Equal(0, store.KeyCount(SourceKind.Tick, 0));

        // A store already at the marker is current: nothing is written.
        var again = changelog.Restore(SourceKind.Tick, "ticks", 1, store);
        Assert.False(again.Rebuilt);
        Assert.Equal(1, store.Writes);
    }

    [Fact]
    public void Restore_LeavesAStoreThatIsAheadAlone_AndAnEmptyChangelogChangesNothing()
    {
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("vitals", 1);
        kafka.CreateTopic("cl.vitals", 1);
        using var changelog = new KafkaChangelog(kafka.BootstrapServers, "cl.", NullLogger.Instance);
        using var store = new MemoryStateStore();
        Assert.False(changelog.Restore(SourceKind.Vitals, "vitals", 0, store).Rebuilt);
        Assert.Equal(-1, store.ReadOffset(SourceKind.Vitals, 0));

        changelog.Publish([Checkpoint(0, 40, ("p", 1), kind: SourceKind.Vitals)]);
        var ahead = Checkpoint(0, 60, ("p", 5), kind: SourceKind.Vitals);
        store.Write([ahead]);
        var result = changelog.Restore(SourceKind.Vitals, "vitals", 0, store);
        Assert.False(result.Rebuilt);
        Assert.Equal((60L, 40L), (result.LocalOffset, result.MarkerOffset));
        Assert.Equal([5], Read(store, 0, "p", SourceKind.Vitals));
    }

    [Fact]
    public void ASwapPublishedAfterTheLastMarker_ReachesTheRebuiltStore_AndAStoreThatIsAlreadyCurrent()
    {
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("ticks", 2);
        kafka.CreateTopic("cl.tick", 2);
        using var changelog = new KafkaChangelog(kafka.BootstrapServers, "cl.", NullLogger.Instance);
        var checkpoint = Checkpoint(1, 100, ("a", 1));
        PartitionModelRecord.Write(checkpoint.Add(SourceKind.Tick, 1, PartitionModelRecord.ModelKey, PartitionModelRecord.Size("v1")), -1, "v1");
        changelog.Publish([checkpoint]);
        // The swap happened after that checkpoint (at offset 130) and the process died before the next one: no marker follows.
        var swap = new CheckpointBatch();
        PartitionModelRecord.Write(swap.Add(SourceKind.Tick, 1, PartitionModelRecord.SwapKey(130), PartitionModelRecord.Size("v2")), 130, "v2");
        changelog.PublishSwaps(swap);

        using var empty = new MemoryStateStore();
        Assert.True(changelog.Restore(SourceKind.Tick, "ticks", 1, empty).Rebuilt);
        var (model, swaps) = PartitionModelRecord.Load(empty, SourceKind.Tick, 1);
        Assert.Equal((-1L, "v1"), model);
        Assert.Equal([(130L, "v2")], swaps);
        Assert.Equal(100, empty.ReadOffset(SourceKind.Tick, 1));

        // A store already at the marker is not rebuilt, but the swap recorded by the previous owner still comes along.
        using var current = new MemoryStateStore();
        current.Write([Checkpoint(1, 100, ("a", 1))]);
        Assert.False(changelog.Restore(SourceKind.Tick, "ticks", 1, current).Rebuilt);
        Assert.Equal([(130L, "v2")], PartitionModelRecord.Load(current, SourceKind.Tick, 1).Swaps);
        Assert.Equal([1], Read(current, 1, "a"));
    }

    [Fact]
    public void Restore_RefusesAChangelogWithFewerPartitionsThanItsInput()
    {
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("ticks", 3);
        kafka.CreateTopic("cl.tick", 1);
        using var changelog = new KafkaChangelog(kafka.BootstrapServers, "cl.", NullLogger.Instance);
        using var store = new MemoryStateStore();
        var ex = Assert.Throws<InvalidOperationException>(() => changelog.Restore(SourceKind.Tick, "ticks", 0, store));
        Assert.Contains("has 1 partitions", ex.Message, StringComparison.Ordinal);
    }

    private static CheckpointBatch Checkpoint(int partition, long offset, (string Key, byte Value) first, (string Key, byte Value)? second = null, SourceKind kind = SourceKind.Tick)
    {
        var b = new CheckpointBatch();
        b.Add(kind, partition, first.Key, 1)[0] = first.Value;
        if (second is { } s) b.Add(kind, partition, s.Key, 1)[0] = s.Value;
        b.SetOffset(kind, partition, offset);
        return b;
    }

    private static byte[] Read(IStateStore store, int partition, string key, SourceKind kind = SourceKind.Tick)
    {
        var k = Encoding.UTF8.GetBytes(key);
        var buffer = new byte[16];
        var n = store.Read(kind, partition, k, k.Length, ref buffer);
        return n < 0 ? [] : buffer[..n];
    }
}
