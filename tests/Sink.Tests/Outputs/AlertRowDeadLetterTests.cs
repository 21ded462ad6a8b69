using Microsoft.Extensions.Time.Testing;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Outputs;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Outputs;

/// <summary>Issue 7, item 8: alert rows for a key line protocol cannot carry are dead-lettered like forecast rows.</summary>
public sealed class AlertRowDeadLetterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sink-alertrows-").FullName;

    [Fact]
    public async Task AlertForAKeyWithANewline_GoesToTheDeadLetterFile_AndWriteAsyncCarriesOn()
    {
        var ct = TestContext.Current.CancellationToken;
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        var options = new AnomalyOptions
        {
            Window = 1,
            WarmupEvents = 0,
            Default = new SourceCalibration { EnterThreshold = 3, ExitThreshold = 1.5, CriticalThreshold = 6, MinDuration = TimeSpan.Zero, Cooldown = TimeSpan.FromSeconds(10) },
        };
        var lp = Path.Combine(_dir, "out.lp");
        var dlq = new DeadLetterFile(Path.Combine(_dir, "dlq"), clock);
        var detector = new AnomalyDetector(options, clock);
        await using (var output = new InfluxForecastOutput(new LineProtocolFileSink(lp, WritePrecision.Milliseconds, new TestLogger()), dlq, clock, new TestLogger<InfluxForecastOutput>(new TestLogger())))
        {
            foreach (var key in new[] { "bad\nkey", "good" })
            {
                await output.WriteAsync(Batches.Row(SourceKind.Tick, key, 1000, 0, 0f, 1f).ScoredBy(detector), ct);
                await output.WriteAsync(Batches.Row(SourceKind.Tick, key, 2000, 8, 0f, 1f).ScoredBy(detector), ct);
            }

            Assert.Equal(2, output.AlertEvents);
            await output.FlushAsync(ct);
        }

        var written = await File.ReadAllLinesAsync(lp, ct);
        Assert.Equal(2, written.Count(l => l.StartsWith("forecast,key=good", StringComparison.Ordinal)));
        Assert.Single(written, l => l.StartsWith("alert,event=raised,key=good", StringComparison.Ordinal));
        Assert.DoesNotContain(written, l => l.Contains("bad", StringComparison.Ordinal));

        var dead = await File.ReadAllLinesAsync(dlq.Path, ct);
        Assert.Equal(2, dead.Count(d => d.Contains("forecast source=tick key=bad", StringComparison.Ordinal)));
        var alert = Assert.Single(dead, d => d.Contains("alert raised", StringComparison.Ordinal));
        Assert.Contains("cannot contain newlines", alert);
        Assert.Contains("\"status\":0", alert);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
