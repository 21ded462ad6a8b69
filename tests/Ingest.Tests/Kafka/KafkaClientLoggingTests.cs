using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamLstm.Ingest.Kafka;

namespace StreamLstm.Ingest.Tests.Kafka;

/// <summary>Consumers and producers built with <see cref="KafkaClientLogging"/> write librdkafka's lines to the logger, not stderr.</summary>
public class KafkaClientLoggingTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Fact]
    public void ConsumerAndProducerLogLines_ReachTheLogger_AtTheirLevel()
    {
        KafkaNative.EnsureLoaded();
        var port = ClosedPort();
        var log = new Lines();
        // debug=broker makes each client log its connection attempts to the closed port at debug level.
        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = $"127.0.0.1:{port}", GroupId = "log-test", Debug = "broker" }).LogTo(log).Build();
        using var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = $"127.0.0.1:{port}", Debug = "broker", ClientId = "log-test-producer" }).LogTo(log).Build();
        consumer.Subscribe("t");
        // The consumer's log callbacks are served from its poll; the producer's from its own threads.
        Assert.True(SpinWait.SpinUntil(() => { consumer.Consume(TimeSpan.FromMilliseconds(50)); return log.Has(LogLevel.Debug, consumer.Name, port); }, Phase), "consumer debug line within the phase");
        Assert.True(SpinWait.SpinUntil(() => log.Has(LogLevel.Debug, producer.Name, port), Phase), "producer debug line within the phase");
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Lines : ILogger
    {
        private readonly ConcurrentQueue<(LogLevel Level, string Text)> _lines = new();

        public bool Has(LogLevel level, string client, int port) =>
            _lines.Any(l => l.Level == level && l.Text.StartsWith($"librdkafka {client} ", StringComparison.Ordinal) && l.Text.Contains($"127.0.0.1:{port}", StringComparison.Ordinal));

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue((logLevel, formatter(state, exception)));
    }
}
