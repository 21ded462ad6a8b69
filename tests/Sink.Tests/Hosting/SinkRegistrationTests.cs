using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Hosting;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.Outputs;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Hosting;

public sealed class SinkRegistrationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sink-di-").FullName;

    [Fact]
    public async Task WithoutAnInfluxUrl_TheOutputsWriteLineProtocolToAFile_AndPipelineStatsToo()
    {
        var ct = TestContext.Current.CancellationToken;
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Sink:FilePath"] = Path.Combine(_dir, "out", "forecasts.lp"),
            ["Sink:DeadLetterDirectory"] = Path.Combine(_dir, "dlq"),
            ["Sink:Spool:Directory"] = Path.Combine(_dir, "spool"),
            ["Sink:Anomaly:Window"] = "3",
            ["Sink:Anomaly:Sources:vitals:SigmaScale"] = "1.5",
        }).Build();
        var log = new TestLogger();
        var services = new ServiceCollection().AddSingleton<Microsoft.Extensions.Logging.ILoggerFactory>(log).AddStreamLstmSink(config);
        await using (var sp = services.BuildServiceProvider())
        {
            Assert.Equal(1.5, sp.GetRequiredService<IOptions<SinkOptions>>().Value.Anomaly.For("vitals").SigmaScale);
            var outputs = sp.GetServices<IForecastOutput>().ToList();
            Assert.Equal(2, outputs.Count);
            Assert.IsType<LineProtocolFileSink>(sp.GetRequiredService<IPointSink>());
            foreach (var o in outputs)
            {
                await o.WriteAsync(Batches.Make(SourceKind.Tick, ["a", "b"], 10, 0, 5000), ct);
                await o.FlushAsync(ct);
            }

            await sp.GetRequiredService<IPipelineStatsSink>().WritePipelineStatsAsync(new PipelineStats(SourceKind.Tick, 1234.5, 12, 3, 64), ct);
        }

        var lines = await File.ReadAllLinesAsync(Path.Combine(_dir, "out", "forecasts.lp"), ct);
        Assert.Equal(11, lines.Length);
        Assert.StartsWith("forecast,key=a,model=m-1,source=tick value=0,mu_h1=0.125,", lines[0]);
        Assert.StartsWith("pipeline,instance=", lines[10]);
        Assert.Contains("events_per_s=1234.5", lines[10]);
        Assert.Contains(log.Lines, l => l.Contains("No InfluxDB URL configured") && l.Contains("forecasts.lp"));
    }

    [Fact]
    public void InvalidOptions_FailAtStartup_WithMessagesThatSayWhatToFix()
    {
        var services = new ServiceCollection().AddStreamLstmSink(o =>
        {
            o.Influx.Url = "http://127.0.0.1:8086";
            o.Influx.Bucket = "b";
            o.Anomaly.Default.ExitThreshold = 5;
            o.Anomaly.Sources["heart"] = new StreamLstm.Sink.Anomaly.SourceCalibration();
        });
        using var sp = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IOptions<SinkOptions>>().Value);
        Assert.Contains(e.Failures, f => f.Contains("Sink:Influx:Org and Sink:Influx:Bucket are both required"));
        Assert.Contains(e.Failures, f => f.Contains("Sink:Influx:Token is required"));
        Assert.Contains(e.Failures, f => f.Contains("must be below EnterThreshold"));
        Assert.Contains(e.Failures, f => f.Contains("Sink:Anomaly:Sources:heart is not a source"));
    }

    [Fact]
    public void V1WithoutDatabase_IsRejected_AndToStringRedactsSecrets()
    {
        var o = new SinkOptions { Influx = { Url = "http://h:8086", Username = "u", Password = "hunter2" } };
        Assert.Contains(o.Validate(), p => p.Contains("Sink:Influx:Database is required"));
        Assert.DoesNotContain("hunter2", o.ToString());
        Assert.Contains("password=***", o.ToString());
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
