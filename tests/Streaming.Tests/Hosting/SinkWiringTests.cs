using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Influx;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Hosting;

/// <summary>The composition root wires the sink: Kafka in → pipeline → forecast points in a real influxd.</summary>
[Collection("kafka")]
public class SinkWiringTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task EventsFromKafka_LandInInfluxDb_OnePointPerForecast_WithTheForecastsValues()
    {
        await using var influx = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await influx.CreateDatabaseAsync("streamlstm");
        using var kafka = KafkaTestKit.StartCluster();
        var models = PipelineInvariantTests.Models();
        var events = Events.Mixed(600, ticksKeys: 10, vitalsKeys: 5, audioKeys: 3, seed: 5);
        KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(events));

        var collected = new CollectingOutput();
        var dir = Directory.CreateTempSubdirectory("sinkwiring-");
        try
        {
            using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, models, [collected], group: "sinkwiring", extra: new()
            {
                ["Sink:Enabled"] = "true",
                ["Sink:Influx:Url"] = influx.Url,
                ["Sink:Influx:Database"] = "streamlstm",
                ["Sink:Influx:FlushInterval"] = "00:00:00.100",
                ["Sink:Spool:Directory"] = Path.Combine(dir.FullName, "spool"),
                ["Sink:DeadLetterDirectory"] = Path.Combine(dir.FullName, "dlq"),
            });
            // Both the InfluxDB output and the alerts output are registered beside the test's collector.
            Assert.Contains(host.Services.GetServices<IForecastOutput>(), o => o.GetType().Name == "InfluxForecastOutput");
            Assert.Contains(host.Services.GetServices<IForecastOutput>(), o => o.GetType().Name == "KafkaAlertOutput");

            await host.StartAsync(TestContext.Current.CancellationToken);
            await collected.WaitForCount(events.Count, Phase, "pipeline phase");
            await host.StopAsync(TestContext.Current.CancellationToken); // flushes every output

            var expected = collected.Rows.ToDictionary(r => (r.Source.ToWireName(), r.Key, r.TimestampMs));
            using var doc = await influx.QueryAsync("SELECT \"value\", \"mu_h1\", \"source\", \"key\" FROM \"forecast\"", "streamlstm");
            var series = doc.RootElement.GetProperty("results")[0].GetProperty("series")[0];
            var columns = series.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToList();
            var rows = series.GetProperty("values").EnumerateArray().ToList();
            Assert.Equal(events.Count, rows.Count);
            foreach (var row in rows)
            {
                var ts = row[columns.IndexOf("time")].GetInt64();
                var key = (row[columns.IndexOf("source")].GetString()!, row[columns.IndexOf("key")].GetString()!, ts);
                Assert.True(expected.TryGetValue(key, out var forecast), $"influx query phase: point {key} has no forecast");
                Assert.Equal(forecast.Mu[0], (float)row[columns.IndexOf("mu_h1")].GetDouble());
                var value = row[columns.IndexOf("value")];
                if (value.ValueKind == JsonValueKind.Null)
                {
                    // A row without an observed value (e.g. audio frame without energy) carries no value field.
                    Assert.False(double.IsFinite(forecast.Observed), $"influx query phase: point {key} lost its observed value {forecast.Observed}");
                }
                else
                {
                    Assert.Equal(forecast.Observed, value.GetDouble(), 9);
                }
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
