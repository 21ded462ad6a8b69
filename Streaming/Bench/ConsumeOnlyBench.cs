using System.Diagnostics;
using Confluent.Kafka;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Bench;

/// <summary>How the consume-only limit reads the topic.</summary>
internal enum DrainLoop
{
    /// <summary>One <c>Consume(100 ms)</c> per message.</summary>
    Single,

    /// <summary><c>Consume(0)</c> until empty, then one wait: the client path's poll loop.</summary>
    Batched,

    /// <summary><c>rd_kafka_consumer_poll</c> on the consumer's handle, bytes packed into a chunk: the native consume path's loop.</summary>
    Native,
}

/// <summary>Rate and cost per message of one consume-only read of the topic.</summary>
/// <param name="Rate">Messages per second.</param>
/// <param name="CpuUs">Process CPU µs per message (every thread, librdkafka's included).</param>
/// <param name="Bytes">Bytes the polling thread allocated per message.</param>
internal readonly record struct DrainCost(double Rate, double CpuUs, double Bytes);

/// <summary>The consume-only side of the Kafka limit: the bare client reading the whole topic, no processing.</summary>
internal static class ConsumeOnlyBench
{
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Reads <paramref name="expected"/> messages of <c>ticks</c> in a fresh group with <paramref name="loop"/>; <paramref name="extra"/>
    /// (the pipeline consumer's extra properties in the same run) applied last.
    /// </summary>
    public static DrainCost Drain(string bootstrap, int expected, DrainLoop loop, IReadOnlyDictionary<string, string>? extra = null)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = "drain-" + Guid.NewGuid().ToString("N"), AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false, QueuedMinMessages = 100_000, FetchMaxBytes = 64 * 1024 * 1024,
        };
        foreach (var (k, v) in extra ?? new Dictionary<string, string>()) config.Set(k, v);
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        consumer.Subscribe("ticks");
        // Wait for the assignment and the first message before timing.
        var first = consumer.Consume(TimeSpan.FromSeconds(30)) ?? throw new InvalidOperationException("drain: no message within 30 s");
        GC.KeepAlive(first);
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var bytes0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        var n = loop == DrainLoop.Native ? NativeLoop(consumer, expected, sw) : ClientLoop(consumer, expected, loop == DrainLoop.Batched, sw);
        sw.Stop();
        var taken = Math.Max(1, n - 1);
        var cost = new DrainCost(taken / sw.Elapsed.TotalSeconds,
            (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalMicroseconds / taken,
            (double)(GC.GetAllocatedBytesForCurrentThread() - bytes0) / taken);
        consumer.Close();
        return cost;
    }

    private static int ClientLoop(IConsumer<byte[]?, byte[]?> consumer, int expected, bool batched, Stopwatch sw)
    {
        var n = 1;
        while (n < expected)
        {
            var r = consumer.Consume(batched ? TimeSpan.Zero : TimeSpan.FromMilliseconds(100));
            if (r is null)
            {
                if (batched) r = consumer.Consume(TimeSpan.FromMilliseconds(100));
                if (r is null && sw.Elapsed > Idle) break;
                if (r is null) continue;
            }

            n++;
        }

        return n;
    }

    private static int NativeLoop(IConsumer<byte[]?, byte[]?> consumer, int expected, Stopwatch sw)
    {
        using var poll = new NativeConsumerPoll(consumer);
        // The bytes go where the native consume path puts them: a pooled chunk's buffer, reused once full.
        var chunk = new MessageChunk(1024);
        var partition = new PartitionState("ticks", 0, SourceKind.Tick, 0);
        var n = 1;
        while (n < expected)
        {
            var m = poll.Poll(0);
            if (m.IsNull)
            {
                m = poll.Poll(100);
                if (m.IsNull && sw.Elapsed > Idle) break;
                if (m.IsNull) continue;
            }

            if (m.Error == NativeConsumerPoll.ErrNoError)
            {
                chunk.AddPacked(partition, m.Key, m.HasKey, m.Value, m.HasValue, m.Offset, 0);
                if (chunk.IsFull) chunk.Release();
                n++;
            }

            NativeConsumerPoll.Destroy(m);
        }

        chunk.Release();
        return n;
    }
}
