using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Hosting;

/// <summary>
/// Faults never wedge the service: a failing output stops it with its reason (non-zero exit); a failing decoder costs one
/// dead letter; a wedged output cannot stretch the stop past its bound; dead letters and given-up deliveries hold offsets.
/// </summary>
[Collection("kafka")]
public class FaultToleranceTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan CommitInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TopicPartition[] TickParts = [.. Enumerable.Range(0, 4).Select(p => new TopicPartition("ticks", p))];

    [Fact]
    public async Task FaultingOutput_StopsTheServiceWithItsReason_AndCommitsNothingPastIt()
    {
        using var kafka = KafkaTestKit.StartCluster(ticksPartitions: 4);
        var ct = TestContext.Current.CancellationToken;
        var seen = new CollectingOutput();
        var faulting = new FaultingOutput("BAD");
        using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, PipelineInvariantTests.Models(), [seen, faulting], group: "fault-output",
            extra: new() { ["Pipeline:ShutdownTimeout"] = "00:00:05" });
        var stopping = Stopping(host);
        KafkaTestKit.Produce(kafka.BootstrapServers, Ticks(0, 100).Append(Tick("BAD", 100)).Concat(Ticks(101, 100)));
        await host.StartAsync(ct);

        await WaitFor(stopping, "the service stopping by itself after the output failed");
        var service = host.Services.GetRequiredService<PipelineHostedService>();
        Assert.NotNull(service.Failure);
        Assert.Contains("worker", service.Failure, StringComparison.Ordinal);
        Assert.Contains("output exploded", service.Failure, StringComparison.Ordinal);
        var sw = Stopwatch.StartNew();
        await host.StopAsync(ct).WaitAsync(Phase, ct);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5 + 15), $"stop took {sw.Elapsed}, past its bound");

        var bad = Assert.Single(seen.Rows, r => r.Key == "BAD");
        using var check = Checker(kafka.BootstrapServers, "fault-output");
        var committed = KafkaTestKit.Committed(check, TickParts);
        Assert.True(committed[bad.Partition] <= bad.Offset, $"partition {bad.Partition} committed {committed[bad.Partition]}, past the failed row at {bad.Offset}");
    }

    [Fact]
    public async Task FaultingDecoder_DeadLettersTheMessage_AndTheServiceKeepsFlowing()
    {
        using var kafka = KafkaTestKit.StartCluster(ticksPartitions: 4);
        var ct = TestContext.Current.CancellationToken;
        var seen = new CollectingOutput();
        using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, PipelineInvariantTests.Models(), [seen], group: "fault-decoder",
            services: s => s.AddSingleton<Func<SourceKind, EventDecoder>>(kind => kind == SourceKind.Tick ? new ThrowingTickDecoder() : EventDecoder.For(kind)));
        var messages = Enumerable.Range(0, 300).Select(i => i % 15 == 7
            ? ("ticks", (byte[]?)Encoding.UTF8.GetBytes($"SYM{i % 10}"), Encoding.UTF8.GetBytes($"{{\"symbol\":\"SYM{i % 10}\",\"ts\":{1_700_000_000_000 + i * 1000L},\"price\":100,\"size\":1,\"boom\":1}}"))
            : Tick($"SYM{i % 10}", i)).ToList();
        KafkaTestKit.Produce(kafka.BootstrapServers, messages);
        await host.StartAsync(ct);

        await seen.WaitForCount(280, Phase, "good ticks around the ones the decoder throws on");
        var dlq = KafkaTestKit.ReadAll(kafka.BootstrapServers, "streamlstm.dlq", 20, Phase, "decoder errors in the DLQ");
        Assert.All(dlq, r => Assert.Equal("decoder_error", KafkaTestKit.Header(r, "reason")));
        Assert.Null(host.Services.GetRequiredService<PipelineHostedService>().Failure);
        await host.StopAsync(ct);
        Assert.Equal(280, seen.Count);
    }

    [Fact]
    public async Task WedgedOutput_CannotStretchTheStopPastItsBound()
    {
        using var kafka = KafkaTestKit.StartCluster(ticksPartitions: 4);
        var ct = TestContext.Current.CancellationToken;
        var seen = new CollectingOutput();
        var wedged = new WedgeAfter(50);
        using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, PipelineInvariantTests.Models(), [seen, wedged], group: "wedged",
            extra: new() { ["Pipeline:ShutdownTimeout"] = "00:00:02" });
        KafkaTestKit.Produce(kafka.BootstrapServers, Ticks(0, 400));
        await host.StartAsync(ct);
        await WaitFor(wedged.Wedged, "an output wedged");

        var sw = Stopwatch.StartNew();
        await host.StopAsync(ct).WaitAsync(Phase, ct);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2 + 15), $"stop took {sw.Elapsed} with a wedged output (bound 2 s + 15 s)");
        Assert.True(host.Services.GetRequiredService<PipelineHostedService>().IncompleteShutdown, "the stop did not report that it was cut short");

        // Nothing the wedged output did not finish may be committed.
        using var check = Checker(kafka.BootstrapServers, "wedged");
        var committed = KafkaTestKit.Committed(check, TickParts);
        var done = wedged.Finished.GroupBy(r => r.Partition).ToDictionary(g => g.Key, g => g.Max(r => r.Offset) + 1);
        for (var p = 0; p < TickParts.Length; p++)
        {
            Assert.True(committed[p] <= done.GetValueOrDefault(p, 0), $"partition {p} committed {committed[p]} past what every output finished ({done.GetValueOrDefault(p, 0)})");
        }
    }

    [Fact]
    public async Task DeadLetters_AreInsideTheDurabilityBarrier()
    {
        using var kafka = KafkaTestKit.StartCluster(ticksPartitions: 4);
        var ct = TestContext.Current.CancellationToken;
        var seen = new CollectingOutput();
        var dead = new GatedDeadLetters();
        using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, PipelineInvariantTests.Models(), [seen], group: "dlq-barrier",
            services: s => s.AddSingleton<IDeadLetterSink>(dead));
        using var check = Checker(kafka.BootstrapServers, "dlq-barrier");
        KafkaTestKit.Produce(kafka.BootstrapServers, Ticks(0, 100));
        await host.StartAsync(ct);
        await seen.WaitForCount(100, Phase, "phase A");
        var endA = KafkaTestKit.EndOffsets(check, TickParts);
        await KafkaTestKit.WaitForCommitted(check, TickParts, endA, Phase, "phase A commit");

        // Phase B: only bad messages, and the DLQ cannot confirm them. Their offsets must not commit.
        dead.CloseGate();
        KafkaTestKit.Produce(kafka.BootstrapServers, Enumerable.Range(0, 40).Select(i => ("ticks", (byte[]?)Encoding.UTF8.GetBytes($"SYM{i % 10}"), "{not json"u8.ToArray())));
        await dead.WaitForCount(40, Phase, "phase B dead letters handed over");
        KafkaTestKit.AssertCommittedStaysAtMost(check, TickParts, endA, 10 * CommitInterval, "phase B (DLQ flush blocked)");

        dead.OpenGate();
        await KafkaTestKit.WaitForCommitted(check, TickParts, KafkaTestKit.EndOffsets(check, TickParts), Phase, "phase B commit after the DLQ flushed");
        await host.StopAsync(ct);
    }

    [Fact]
    public async Task GivenUpDelivery_HoldsItsPartition_WhileTheOthersCommitToTheEnd()
    {
        using var kafka = KafkaTestKit.StartCluster(ticksPartitions: 4);
        var ct = TestContext.Current.CancellationToken;
        var seen = new CollectingOutput();
        var losing = new LosingOutput("LOST");
        using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, PipelineInvariantTests.Models(), [seen, losing], group: "undelivered");
        losing.Failures = host.Services.GetRequiredService<DeliveryFailures>();
        using var check = Checker(kafka.BootstrapServers, "undelivered");
        KafkaTestKit.Produce(kafka.BootstrapServers, Ticks(0, 100).Append(Tick("LOST", 100)).Concat(Ticks(101, 200)));
        await host.StartAsync(ct);
        await seen.WaitForCount(301, Phase, "every row written");

        var lost = Assert.Single(seen.Rows, r => r.Key == "LOST");
        var expected = KafkaTestKit.EndOffsets(check, TickParts);
        expected[lost.Partition] = lost.Offset;
        await KafkaTestKit.WaitForCommitted(check, TickParts, expected, Phase, "the others commit to the end, the lost row's partition stays at it");
        KafkaTestKit.AssertCommittedStaysAtMost(check, TickParts, expected, 10 * CommitInterval, "held partition");
        var pipeline = await host.Services.GetRequiredService<PipelineHostedService>().Started;
        Assert.Equal(1, pipeline.Totals().Undelivered);
        await host.StopAsync(ct);
        Assert.Equal(lost.Offset, KafkaTestKit.Committed(check, TickParts)[lost.Partition]);
    }

    private static IConsumer<byte[], byte[]> Checker(string bootstrap, string group) =>
        new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = group }).Build();

    private static Task Stopping(IHost host)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping.Register(() => tcs.TrySetResult());
        return tcs.Task;
    }

    private static (string, byte[]?, byte[]) Tick(string key, int i) =>
        ("ticks", Encoding.UTF8.GetBytes(key), Events.Tick(key, 1_700_000_000_000 + i * 1000L, 100 + (i % 7), 1 + (i % 3)));

    private static IEnumerable<(string, byte[]?, byte[])> Ticks(int from, int count) =>
        Enumerable.Range(from, count).Select(i => Tick($"SYM{i % 10}", i));

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

    /// <summary>Throws on the first batch holding <paramref name="key"/>.</summary>
    private sealed class FaultingOutput(string key) : IForecastOutput
    {
        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            for (var r = 0; r < batch.Count; r++)
            {
                if (batch.Keys[r] == key) throw new InvalidOperationException("output exploded");
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    /// <summary>Takes <paramref name="rows"/> rows, then never returns from a write (until cancelled).</summary>
    private sealed class WedgeAfter(int rows) : IForecastOutput
    {
        private readonly TaskCompletionSource _wedged = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Wedged => _wedged.Task;

        public System.Collections.Concurrent.ConcurrentBag<(int Partition, long Offset)> Finished { get; } = [];

        public async ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            if (Finished.Count >= rows)
            {
                _wedged.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, cancellationToken);
            }

            for (var r = 0; r < batch.Count; r++) Finished.Add((batch.Partitions[r], batch.Offsets[r]));
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    /// <summary>Reports the row of <paramref name="key"/> as given up, as a producer out of retries does.</summary>
    private sealed class LosingOutput(string key) : IForecastOutput
    {
        public DeliveryFailures? Failures { get; set; }

        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            for (var r = 0; r < batch.Count; r++)
            {
                if (batch.Keys[r] == key) Failures!.Record("test output", batch.Source, batch.Partitions[r], batch.Offsets[r], "refused");
            }

            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    /// <summary>A dead-letter sink whose flush waits while its gate is closed.</summary>
    private sealed class GatedDeadLetters : IDeadLetterSink
    {
        private readonly List<(int Target, TaskCompletionSource Done)> _waiters = [];
        private TaskCompletionSource? _gate;
        private int _count;

        public void CloseGate() => Volatile.Write(ref _gate, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        public void OpenGate() => Volatile.Read(ref _gate)?.TrySetResult();

        public void DeadLetter(DeadLetterReason reason, PartitionState partition, long offset, byte[]? key, byte[]? value) => Add();

        public void Late(PartitionState partition, long offset, byte[]? key, byte[]? value, long lastTimestampMs) => Add();

        public async ValueTask FlushAsync(CancellationToken cancellationToken)
        {
            if (Volatile.Read(ref _gate) is { } gate) await gate.Task.WaitAsync(cancellationToken);
        }

        public async Task WaitForCount(int target, TimeSpan timeout, string phase)
        {
            Task wait;
            lock (_waiters)
            {
                var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (_count >= target) tcs.SetResult();
                else _waiters.Add((target, tcs));
                wait = tcs.Task;
            }

            try
            {
                await wait.WaitAsync(timeout);
            }
            catch (TimeoutException)
            {
                Assert.Fail($"{phase}: {_count} of {target} dead letters within {timeout.TotalSeconds:0}s");
            }
        }

        private void Add()
        {
            lock (_waiters)
            {
                _count++;
                foreach (var w in _waiters.Where(w => _count >= w.Target)) w.Done.TrySetResult();
            }
        }
    }

    /// <summary>A tick decoder that throws on any event carrying a <c>boom</c> field (stands in for a decoder bug).</summary>
    private sealed class ThrowingTickDecoder() : EventDecoder(null, null)
    {
        public override SourceKind Kind => SourceKind.Tick;

        public override int ValueCount => 4;

        public override string IdField => "symbol";

        protected override ReadOnlySpan<byte> IdFieldUtf8 => "symbol"u8;

        protected override DeadLetterReason ReadField(ref Utf8JsonReader reader, Span<double> values)
        {
            if (reader.ValueTextEquals("boom"u8)) throw new IndexOutOfRangeException("decoder bug");
            var index = reader.ValueTextEquals("price"u8) ? 0 : reader.ValueTextEquals("size"u8) ? 1 : -1;
            if (index < 0) return SkipValue(ref reader);
            reader.Read();
            return ReadNumber(ref reader, out values[index]);
        }

        protected override DeadLetterReason Validate(Span<double> values)
        {
            values[2] = values[0];
            values[3] = values[0];
            return double.IsNaN(values[0]) || double.IsNaN(values[1]) ? DeadLetterReason.MissingField : DeadLetterReason.None;
        }
    }
}
