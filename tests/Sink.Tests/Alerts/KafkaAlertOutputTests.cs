using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Time.Testing;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Tests.Support;

namespace StreamLstm.Sink.Tests.Alerts;

public class KafkaAlertOutputTests
{
    [Fact]
    public async Task AlertEvents_ArriveOnTheAlertsTopic_ExactlyOnceAndInOrderPerKey()
    {
        var ct = TestContext.Current.CancellationToken;
        KafkaNative.EnsureLoaded();
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        kafka.CreateTopic("alerts", partitions: 3);
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
        var anomaly = new AnomalyOptions
        {
            Window = 1,
            WarmupEvents = 0,
            Default = new SourceCalibration { EnterThreshold = 3, ExitThreshold = 1.5, CriticalThreshold = 6, MinDuration = TimeSpan.FromSeconds(1), Cooldown = TimeSpan.Zero },
        };
        var detector = new AnomalyDetector(anomaly, clock);
        var output = new KafkaAlertOutput(new KafkaAlertOptions { BootstrapServers = kafka.BootstrapServers, Topic = "alerts" }, clock, new TestLogger<KafkaAlertOutput>(new TestLogger()));
        await using (output)
        {
            // Per key: z = 0, 4, 4, 7, 0 at 1 s steps → raised at t=2 s (start 1 s), updated (critical) at 3 s, resolved at 4 s.
            string[] keys = ["patient 1", "patient-2"];
            double[] zs = [0, 4, 4, 7, 0];
            var batch = new ForecastBatch(SourceKind.Vitals, 1, keys.Length) { ModelVersion = "v7" };
            for (var step = 0; step < zs.Length; step++)
            {
                for (var k = 0; k < keys.Length; k++)
                {
                    batch.Keys[k] = keys[k];
                    batch.TimestampsMs[k] = 1_000_000 + (step * 1000);
                    batch.Observed[k] = zs[step];
                    batch.Mu[k] = 0;
                    batch.Sigma[k] = 1;
                }

                batch.Count = keys.Length;
                await output.WriteAsync(batch.ScoredBy(detector), ct);
            }

            await Wait.ForAsync(output.FlushAsync(ct).AsTask(), TimeSpan.FromSeconds(60), "alerts acknowledged by Kafka");
            Assert.Equal(6, output.Delivered);
            Assert.Equal(0, output.Pending);
        }

        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "t", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Subscribe("alerts");
        var got = new List<(string Key, JsonElement Json)>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (got.Count < 6)
        {
            Assert.True(DateTime.UtcNow < deadline, $"consuming alerts timed out after {got.Count} of 6");
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is not null)
            {
                got.Add((r.Message.Key, JsonDocument.Parse(r.Message.Value).RootElement.Clone()));
            }
        }

        Assert.Null(consumer.Consume(TimeSpan.FromMilliseconds(500)));
        consumer.Close();
        foreach (var key in new[] { "patient 1", "patient-2" })
        {
            var events = got.Where(g => g.Key == "vitals/" + key).Select(g => g.Json).ToList();
            Assert.Equal(["raised", "updated", "resolved"], events.Select(e => e.GetProperty("event").GetString()));
            Assert.All(events, e => Assert.Equal($"vitals/{key}/1001000", e.GetProperty("alert_id").GetString()));
            Assert.Equal("warning", events[0].GetProperty("severity").GetString());
            Assert.Equal("critical", events[1].GetProperty("severity").GetString());
            Assert.Equal(key, events[0].GetProperty("key").GetString());
            Assert.Equal("vitals", events[0].GetProperty("source").GetString());
            Assert.Equal("v7", events[0].GetProperty("model").GetString());
            Assert.Equal(1_001_000, events[0].GetProperty("start_ms").GetInt64());
            Assert.Equal(1_002_000, events[0].GetProperty("event_ms").GetInt64());
            var violated = events[1].GetProperty("violated_forecast");
            Assert.Equal(7, violated.GetProperty("observed").GetDouble());
            Assert.Equal(0, violated.GetProperty("mu").GetDouble());
            Assert.Equal(1, violated.GetProperty("sigma").GetDouble());
            Assert.Equal(1_002_000, violated.GetProperty("made_at_ms").GetInt64());
            Assert.Equal(GaussianTail.Surprise(GaussianTail.LogTwoSidedP(7)), events[2].GetProperty("peak_score").GetDouble(), 12);
        }
    }
}
