using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Streaming.Broker;

namespace StreamLstm.Streaming.Tests.Cli;

/// <summary><c>streamlstm broker</c> as a child process: its first line, its topics, its port and its stop.</summary>
public class BrokerCommandTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task FirstLine_IsTheBootstrapAddress_TopicsExist_AndSigtermExitsZero()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SIGTERM is sent with libc kill()");
        await using var broker = CliProcess.Start("broker", "--partitions", "3");
        var first = await broker.FirstLine.WaitAsync(StartTimeout);
        var match = Regex.Match(first, @"^bootstrap\.servers=(127\.0\.0\.1:\d+)$");
        Assert.True(match.Success, $"first line: '{first}'");
        var bootstrap = match.Groups[1].Value;

        KafkaNative.EnsureLoaded();
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            var metadata = admin.GetMetadata(TimeSpan.FromSeconds(30));
            foreach (var topic in BrokerCommand.Topics)
            {
                var t = metadata.Topics.SingleOrDefault(x => x.Topic == topic);
                Assert.True(t is not null, $"topic '{topic}' missing; the broker has {string.Join(",", metadata.Topics.Select(x => x.Topic))}");
                Assert.Equal(3, t.Partitions.Count);
            }
        }

        broker.Terminate();
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30), "stop on SIGTERM"));
        Assert.Contains("broker stopped", broker.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Port_ServesTheKafkaProtocolThere_AndAdvertisesIt()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "SIGTERM is sent with libc kill()");
        var port = FreePort();
        await using var broker = CliProcess.Start("broker", "--partitions", "2", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal($"bootstrap.servers=127.0.0.1:{port}", await broker.FirstLine.WaitAsync(StartTimeout));
        var bootstrap = $"127.0.0.1:{port}";

        KafkaNative.EnsureLoaded();
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            // Clients reconnect to what metadata advertises: it must be the fixed port, not the mock's own.
            var metadata = admin.GetMetadata(TimeSpan.FromSeconds(30));
            Assert.Equal(port, Assert.Single(metadata.Brokers).Port);
        }

        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = bootstrap }).Build())
        {
            for (var i = 0; i < 50; i++) producer.Produce("ticks", new Message<byte[], byte[]> { Key = Encoding.UTF8.GetBytes($"k{i}"), Value = Encoding.UTF8.GetBytes($"v{i}") });
            Assert.True(producer.Flush(TimeSpan.FromSeconds(30)) == 0, "produce through the fixed port: messages undelivered after 30 s");
        }

        using (var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "port-test", AutoOffsetReset = AutoOffsetReset.Earliest }).Build())
        {
            consumer.Subscribe("ticks");
            var values = new HashSet<string>();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (values.Count < 50)
            {
                Assert.True(DateTime.UtcNow < deadline, $"consume through the fixed port: {values.Count} of 50 within 60 s");
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } r) values.Add(Encoding.UTF8.GetString(r.Message.Value));
            }

            consumer.Close();
        }

        broker.Terminate();
        Assert.Equal(0, await broker.WaitForExitAsync(TimeSpan.FromSeconds(30), "stop on SIGTERM"));
    }

    [Fact]
    public async Task Port_InUse_FailsWithAClearMessage()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        await using var broker = CliProcess.Start("broker", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1, await broker.WaitForExitAsync(StartTimeout, "broker on a taken port"));
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", broker.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("bootstrap.servers=", broker.Output, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
