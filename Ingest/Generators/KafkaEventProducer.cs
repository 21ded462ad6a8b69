using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Ingest.Generators;

/// <summary>Result of a produce run.</summary>
/// <param name="Produced">Messages this run handed to the producer.</param>
/// <param name="Delivered">Messages the broker acknowledged: the producer's total after this run's flush (runs sharing
/// one producer concurrently count each other's messages too).</param>
/// <param name="Failed">Messages that failed delivery (producer total, like <paramref name="Delivered"/>).</param>
/// <param name="Anomalies">Produced messages whose label was not <see cref="AnomalyKind.None"/>.</param>
/// <param name="Elapsed">Time taken, measured by the injected clock.</param>
/// <param name="FirstError">The first delivery error, if any.</param>
public sealed record ProduceReport(long Produced, long Delivered, long Failed, long Anomalies, TimeSpan Elapsed, string? FirstError)
{
    /// <summary>Delivered messages per second of <see cref="Elapsed"/>.</summary>
    public double EventsPerSecond => Elapsed > TimeSpan.Zero ? Delivered / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Produces events to a Kafka topic with a batching Confluent.Kafka producer (key = entity id, value = JSON), at a
/// target rate or as fast as possible. Pacing uses the injected <see cref="TimeProvider"/>. Also used by replay.
/// Thread-safe: several <see cref="ProduceAsync"/> runs (e.g. one per source kind) may share one instance.
/// </summary>
public sealed class KafkaEventProducer : IDisposable
{
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly Action<DeliveryReport<byte[], byte[]>> _onDelivery;
    private readonly StreamLstm.Model.Delivery.QueueSpaceSignal _queueSpace = new();
    private long _produced;
    private long _delivered;
    private long _failed;
    private string? _firstError;

    /// <summary>Creates a producer for <paramref name="bootstrapServers"/>.</summary>
    /// <param name="bootstrapServers">Kafka bootstrap servers.</param>
    /// <param name="configure">Optional extra producer settings.</param>
    public KafkaEventProducer(string bootstrapServers, Action<ProducerConfig>? configure = null)
    {
        KafkaNative.EnsureLoaded();
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            LingerMs = 5,
            BatchNumMessages = 10_000,
            QueueBufferingMaxMessages = 500_000,
            Acks = Acks.Leader,
            EnableIdempotence = false,
        };
        configure?.Invoke(config);
        _producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        _onDelivery = OnDelivery;
    }

    /// <summary>Name of the header that carries an anomalous event's label when <see cref="AnomalyHeaders"/> is on.</summary>
    public const string AnomalyHeaderName = "anomaly";

    /// <summary>
    /// When true, <see cref="ProduceAsync"/> adds a Kafka header <c>anomaly</c> (e.g. <c>tachycardia</c>) to each anomalous
    /// event, so an evaluator can score alerts against the injected labels without changing the JSON.
    /// </summary>
    public bool AnomalyHeaders { get; set; }

    /// <summary>How long <see cref="Dispose"/> waits for outstanding deliveries.</summary>
    public TimeSpan DisposeFlushTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Messages handed to the producer so far (all runs).</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Messages acknowledged so far.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Messages that failed so far.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>
    /// Generates <paramref name="count"/> events and produces them to <paramref name="topic"/>, then flushes.
    /// At rate 0 it runs synchronously on the caller's thread; wrap it in <c>Task.Run</c> to keep a thread free.
    /// </summary>
    /// <param name="generator">The event source.</param>
    /// <param name="topic">Target topic.</param>
    /// <param name="count">Number of events.</param>
    /// <param name="eventsPerSecond">Target rate over all keys; 0 = as fast as possible.</param>
    /// <param name="time">Clock used for pacing and elapsed time (null = system clock).</param>
    /// <param name="cancellationToken">Stops early (what was produced is still flushed).</param>
    /// <returns>Counts and elapsed time.</returns>
    public async Task<ProduceReport> ProduceAsync(IEventGenerator generator, string topic, long count, double eventsPerSecond = 0, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegative(eventsPerSecond);
        var keys = new byte[generator.KeyCount][];
        for (var k = 0; k < keys.Length; k++)
        {
            keys[k] = generator.GetKeyUtf8(k).ToArray();
        }

        var buffer = new byte[EventJson.MaxEventBytes];
        var pacer = new Pacer(time ?? TimeProvider.System, eventsPerSecond);
        long produced = 0, anomalies = 0;
        while (produced < count && !cancellationToken.IsCancellationRequested)
        {
            await pacer.WaitForAsync(produced, cancellationToken).ConfigureAwait(false);
            var info = generator.Next(buffer, out var n);
            Produce(topic, keys[info.KeyIndex], buffer.AsSpan(0, n).ToArray(), AnomalyHeaders && info.IsAnomaly ? LabelHeaders(info.Anomaly) : null);
            produced++;
            if (info.IsAnomaly)
            {
                anomalies++;
            }
        }

        Flush(cancellationToken);
        return new ProduceReport(produced, Delivered, Failed, anomalies, pacer.Elapsed, _firstError);
    }

    /// <summary>Produces one message, waiting (by polling delivery reports) while the local queue is full.</summary>
    /// <param name="topic">Topic.</param>
    /// <param name="key">Key bytes.</param>
    /// <param name="value">Value bytes (ownership passes to the producer).</param>
    /// <param name="headers">Optional Kafka headers.</param>
    public void Produce(string topic, byte[] key, byte[] value, Headers? headers = null)
    {
        var message = new Message<byte[], byte[]> { Key = key, Value = value, Headers = headers };
        while (true)
        {
            _queueSpace.Arm();
            try
            {
                _producer.Produce(topic, message, _onDelivery);
                Interlocked.Increment(ref _produced);
                return;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                // Backpressure: wait for a delivery report (the client polls in the background; its Poll would throw).
                _queueSpace.Wait(TimeSpan.FromMilliseconds(100));
            }
        }
    }

    /// <summary>Waits until every produced message is acknowledged or failed.</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    public void Flush(CancellationToken cancellationToken = default)
    {
        try
        {
            _producer.Flush(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Caller asked to stop; undelivered messages are reported by the counters.
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Bounded: a producer whose broker is gone must not hang its owner's shutdown.
        _producer.Flush(DisposeFlushTimeout);
        _producer.Dispose();
        _queueSpace.Dispose();
    }

    private static Headers LabelHeaders(AnomalyKind kind) => new() { { AnomalyHeaderName, kind.ToLabelUtf8().ToArray() } };

    private void OnDelivery(DeliveryReport<byte[], byte[]> report)
    {
        _queueSpace.Signal();
        if (report.Error.IsError)
        {
            Interlocked.Increment(ref _failed);
            Interlocked.CompareExchange(ref _firstError, report.Error.ToString(), null);
        }
        else
        {
            Interlocked.Increment(ref _delivered);
        }
    }
}

/// <summary>Paces item i to start no earlier than start + i / rate on a <see cref="TimeProvider"/>; rate 0 never waits.</summary>
internal sealed class Pacer(TimeProvider time, double perSecond)
{
    private readonly long _start = time.GetTimestamp();

    public TimeSpan Elapsed => time.GetElapsedTime(_start);

    public ValueTask WaitForAsync(long index, CancellationToken cancellationToken) =>
        perSecond <= 0 ? ValueTask.CompletedTask : WaitUntilAsync(TimeSpan.FromSeconds(index / perSecond), cancellationToken);

    public ValueTask WaitUntilAsync(TimeSpan due, CancellationToken cancellationToken)
    {
        var ahead = due - Elapsed;
        // Sleeping for less than a millisecond costs more than it saves; a burst catches up on the next wait.
        return ahead <= TimeSpan.FromMilliseconds(1) ? ValueTask.CompletedTask : new ValueTask(Task.Delay(ahead, time, cancellationToken).ContinueWith(static _ => { }, TaskScheduler.Default));
    }
}
