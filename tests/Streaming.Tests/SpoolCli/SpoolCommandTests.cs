using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Spool;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Tests.SpoolCli;

/// <summary>The <c>spool</c> and <c>influx</c> commands through the real command tree.</summary>
public sealed class SpoolCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("spool-cli-").FullName;

    private string Root => Path.Combine(_dir, "spool");

    private static (int Code, string Out, string Err) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        return (code, output.ToString(), error.ToString());
    }

    private static int ClosedPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private async Task<string> SpoolAsync(string database, int points)
    {
        var options = new InfluxOptions { Url = $"http://127.0.0.1:{ClosedPort()}", Database = database, MaxRetries = 0 };
        await using var writer = new InfluxWriter(new HttpClient(), options, new SpoolOptions { Directory = Root, Fsync = false }, Path.Combine(_dir, "dlq"), TimeProvider.System, NullLogger.Instance);
        using var lines = new LineProtocolBuffer();
        for (var i = 0; i < points; i++)
        {
            lines.BeginLine("forecast");
            lines.Tag("key", "k" + i);
            lines.Field("value", i);
            lines.EndLine(1_700_000_000_000 + i);
        }

        await writer.WriteAsync(lines, TestContext.Current.CancellationToken);
        await writer.FlushAsync(TestContext.Current.CancellationToken);
        return writer.Destination.Key;
    }

    [Fact]
    public async Task List_Replay_Drop_ShowRefuseAndDelete()
    {
        var key = await SpoolAsync("mydb", 25);

        var (code, stdout, _) = Invoke("spool", "list", "--dir", Root);
        Assert.Equal(0, code);
        var row = Assert.Single(stdout.Split('\n'), l => l.StartsWith("| " + key, StringComparison.Ordinal));
        Assert.Contains("db=mydb", row);
        Assert.Contains("| 1 | 25 |", row);

        // Elsewhere without the confirmation flag: refused, nothing moved.
        (code, _, var stderr) = Invoke("spool", "replay", key[..12], "--dir", Root, "--to", $"http://127.0.0.1:{ClosedPort()}", "--db", "other");
        Assert.Equal(2, code);
        Assert.Contains("--yes-send-elsewhere", stderr);
        Assert.Equal(25, SpoolCatalog.Find(Root, key).Stats.Points);

        (code, _, stderr) = Invoke("spool", "drop", key, "--dir", Root);
        Assert.Equal(2, code);
        Assert.Contains("add --yes", stderr);

        (code, stdout, _) = Invoke("spool", "drop", key, "--dir", Root, "--yes");
        Assert.Equal(0, code);
        Assert.Contains("deleted 1 segments (25 points)", stdout);
        Assert.Contains("is empty", Invoke("spool", "list", "--dir", Root).Out);
    }

    [Fact]
    public void InfluxSetup_ChecksItsArgumentsBeforeCallingTheServer()
    {
        var (code, _, stderr) = Invoke("influx", "setup", "--org", "o", "--bucket", "b", "--url", $"http://127.0.0.1:{ClosedPort()}");
        Assert.Equal(2, code);
        Assert.Contains("token is required", stderr);
        (code, _, stderr) = Invoke("influx", "setup", "--org", "o", "--bucket", "b", "--token", "t", "--retention", "3x");
        Assert.Equal(2, code);
        Assert.Contains("retention unit", stderr);
        (code, _, stderr) = Invoke("influx", "setup", "--org", "o", "--bucket", "b", "--token", "t", "--url", $"http://127.0.0.1:{ClosedPort()}");
        Assert.Equal(1, code);
        Assert.Contains("influx setup at http://127.0.0.1:", stderr);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
