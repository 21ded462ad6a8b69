using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Broker;

/// <summary>
/// <c>streamlstm broker</c>: the embedded Kafka cluster (librdkafka's mock cluster, the real protocol) in a process of its
/// own, so pipelines, generators and tests in other processes can share it. Creates the pipeline's topics, prints
/// <c>bootstrap.servers=HOST:PORT</c> as its first line and runs until SIGTERM or Ctrl+C, then exits 0.
/// </summary>
public static class BrokerCommand
{
    /// <summary>The topics the broker creates: the pipeline's inputs, outputs and side topics.</summary>
    public static readonly IReadOnlyList<string> Topics = ["ticks", "vitals", "audio-features", "forecasts", "alerts", "streamlstm.dlq", "late",
        "streamlstm.changelog.tick", "streamlstm.changelog.vitals", "streamlstm.changelog.audio"];

    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("broker", "Host the embedded Kafka cluster (librdkafka mock) until SIGTERM/Ctrl+C; first line: bootstrap.servers=HOST:PORT.");
        var partitions = new Option<int>("--partitions") { Description = "Partitions of every topic it creates (" + string.Join(", ", Topics) + "); the mock keeps ~5 MB per partition", DefaultValueFactory = _ => 6 };
        var port = new Option<int?>("--port") { Description = "Serve on this loopback port (default: one the kernel picks)" };
        partitions.Check(v => v is < 1 or > 1000 ? "--partitions must be 1..1000." : null);
        port.Check(v => v is < 1 or > 65535 ? "--port must be 1..65535." : null);
        command.Options.Add(partitions);
        command.Options.Add(port);
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(partitions), parse.GetValue(port), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    /// <summary>Starts the cluster, prints its address and serves until <paramref name="stop"/> is cancelled.</summary>
    /// <param name="partitions">Partitions per topic.</param>
    /// <param name="port">Fixed port, or null for a kernel-chosen one.</param>
    /// <param name="output">Standard output (the first line is the address).</param>
    /// <param name="error">Standard error.</param>
    /// <param name="stop">Cancelled by SIGTERM/SIGINT.</param>
    /// <returns>The exit code.</returns>
    public static async Task<int> RunAsync(int partitions, int? port, TextWriter output, TextWriter error, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        using var cluster = EmbeddedKafka.Start(brokers: 1);
        foreach (var topic in Topics) cluster.CreateTopic(topic, partitions);
        TcpForwarder? forwarder = null;
        var bootstrap = cluster.BootstrapServers;
        if (port is { } p)
        {
            try
            {
                forwarder = TcpForwarder.Start(new IPEndPoint(IPAddress.Loopback, p), IPEndPoint.Parse(cluster.BootstrapServers.Split(',')[0]));
            }
            catch (SocketException e)
            {
                await error.WriteLineAsync($"broker: cannot listen on 127.0.0.1:{p}: {e.Message}").ConfigureAwait(false);
                return 1;
            }

            // Metadata must name the fixed port too, or clients would reconnect to the mock's hidden one.
            cluster.AdvertiseBroker(1, "127.0.0.1", p);
            bootstrap = $"127.0.0.1:{p}";
        }

        try
        {
            // The contract: the very first line, flushed before anything else, so a parent process can read it at once.
            await output.WriteLineAsync($"bootstrap.servers={bootstrap}").ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            await output.WriteLineAsync($"topics: {string.Join(", ", Topics)} ({partitions} partitions each; others are created on first use)").ConfigureAwait(false);
            await output.WriteLineAsync("broker running until SIGTERM or Ctrl+C").ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            // SIGTERM (what service managers and `kill` send) and SIGINT both mean a clean stop with exit code 0.
            using var stopped = CancellationTokenSource.CreateLinkedTokenSource(stop);
            using var onTerm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            using var onInt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            try
            {
                await Task.Delay(Timeout.Infinite, stopped.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            await output.WriteLineAsync("broker stopped").ConfigureAwait(false);
            await output.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            return 0;

            void Stop(PosixSignalContext context)
            {
                context.Cancel = true;
                stopped.Cancel();
            }
        }
        finally
        {
            if (forwarder is not null) await forwarder.DisposeAsync().ConfigureAwait(false);
        }
    }
}
