using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Hosting;

[Collection("kafka")]
public class DurabilityBarrierTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan CommitInterval = TimeSpan.FromMilliseconds(200);

    [Fact]
    public async Task Offsets_AreCommittedOnlyAfterEveryOutputFlushed()
    {
        using var kafka = KafkaTestKit.StartCluster(ticksPartitions: 4);
        var ct = TestContext.Current.CancellationToken;
        var output = new GatedFlushOutput();
        using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, PipelineInvariantTests.Models(), [output], group: "durable");
        using var check = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "durable" }).Build();
        TopicPartition[] parts = [.. Enumerable.Range(0, 4).Select(p => new TopicPartition("ticks", p))];

        // Phase A, flushes pass: the group commits up to the end of the topic.
        KafkaTestKit.Produce(kafka.BootstrapServers, Ticks(0, 200));
        await host.StartAsync(ct);
        await output.Rows.WaitForCount(200, Phase, "phase A consume");
        var endA = EndOffsets(check, parts);
        await WaitForCommitted(check, parts, endA, "phase A commit (flushes open)");

        // Phase B, flushes blocked: every row is written, yet nothing past phase A may be committed.
        output.CloseGate();
        KafkaTestKit.Produce(kafka.BootstrapServers, Ticks(200, 200));
        await output.Rows.WaitForCount(400, Phase, "phase B consume (WriteAsync for every event)");
        var endB = EndOffsets(check, parts);
        Assert.True(endB.Sum() > endA.Sum(), "phase B produced nothing");
        await WaitFor(output.FlushBlocked, "phase B: the durability barrier never called FlushAsync");
        var consumer = host.Services.GetRequiredService<PipelineHostedService>().Consumer!;
        var barriers = consumer.Barriers;

        // Without the barrier they would reach phase B's end within one interval.
        KafkaTestKit.AssertCommittedStaysAtMost(check, parts, endA, 10 * CommitInterval, "phase B (flush blocked)");

        Assert.Equal(barriers, consumer.Barriers);

        // Release the flush: the committed offsets reach the end.
        output.OpenGate();
        await WaitForCommitted(check, parts, endB, "phase B commit (after the flush was released)");
        Assert.True(consumer.Barriers > barriers, "released phase: no barrier completed");
        await host.StopAsync(ct);
    }

    private static IEnumerable<(string, byte[]?, byte[])> Ticks(int from, int count) =>
        Enumerable.Range(from, count).Select(i =>
        {
            var key = $"SYM{i % 10}";
            return ("ticks", (byte[]?)Encoding.UTF8.GetBytes(key), Events.Tick(key, 1_700_000_000_000 + i * 1000L, 100 + (i % 7), 1 + (i % 3)));
        });

    private static async Task WaitFor(Task task, string phase)
    {
        try
        {
            await task.WaitAsync(Phase);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{phase} within {Phase.TotalSeconds:0}s");
        }
    }

    private static long[] EndOffsets(IConsumer<byte[], byte[]> c, TopicPartition[] parts) => KafkaTestKit.EndOffsets(c, parts);

    private static Task WaitForCommitted(IConsumer<byte[], byte[]> c, TopicPartition[] parts, long[] expected, string phase) =>
        KafkaTestKit.WaitForCommitted(c, parts, expected, Phase, phase);

    /// <summary>Collects rows; its <see cref="FlushAsync"/> waits while the gate is closed.</summary>
    private sealed class GatedFlushOutput : IForecastOutput
    {
        private readonly TaskCompletionSource _blocked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private TaskCompletionSource? _gate;

        public CollectingOutput Rows { get; } = new();

        /// <summary>Completes once a flush is waiting on the closed gate.</summary>
        public Task FlushBlocked => _blocked.Task;

        public void CloseGate() => Volatile.Write(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public void OpenGate() => Volatile.Read(ref _gate)?.TrySetResult();

        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken) => Rows.WriteAsync(batch, cancellationToken);

        public async ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            if (Volatile.Read(ref _gate) is { } gate)
            {
                _blocked.TrySetResult();
                await gate.Task.WaitAsync(cancellationToken);
            }
        }
    }
}
