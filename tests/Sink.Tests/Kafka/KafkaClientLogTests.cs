using System.Net;
using System.Net.Sockets;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Sink.Kafka;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Kafka;

/// <summary>librdkafka's own log lines and transient errors reach the service's logger on both produce paths (not stderr).</summary>
public class KafkaClientLogTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(ForecastProducePath.Client)]
    [InlineData(ForecastProducePath.Native)]
    public async Task ClientLogLinesAndTransientErrors_GoToTheLogger(ForecastProducePath path)
    {
        KafkaNative.EnsureLoaded();
        var port = ClosedPort();
        var log = new TestLogger();
        // debug=broker makes the client log its connection attempts (level 7); a refused connection is a transient error.
        using var output = new KafkaForecastOutput(new KafkaForecastOutputOptions { BootstrapServers = $"127.0.0.1:{port}", ProducePath = path, Extra = { ["debug"] = "broker" } }, new TestLogger<KafkaForecastOutput>(log));
        await Wait.UntilAsync(() => log.Lines.Any(l => l.StartsWith("Debug: librdkafka ", StringComparison.Ordinal) && l.Contains($"127.0.0.1:{port}", StringComparison.Ordinal)), Phase, $"a librdkafka debug line in the logger ({path})");
        await Wait.UntilAsync(() => log.Lines.Any(l => l.StartsWith("Warning: Kafka client ", StringComparison.Ordinal)), Phase, $"the refused connection as a transient-error warning ({path})");
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
