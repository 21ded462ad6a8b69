using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Hosting;

/// <summary>
/// Issue 7's end-to-end fault test through the embedded Kafka: valid events interleaved with every kind of bad message
/// across all input partitions. Every bad message lands in the DLQ with its reason (counted by key), every good one gets
/// its forecast on the forecasts topic, the pipeline keeps flowing afterwards, and the stop completes within its bound.
/// </summary>
[Collection("kafka")]
public class EndToEndFaultTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(180);
    private const long T0 = 1_700_000_000_000;

    /// <summary>Bad messages: a maker (unique key, ts) → (topic, Kafka key, value) and the DLQ reason it must get.</summary>
    public static readonly (string Name, string Reason, Func<string, long, (string Topic, byte[]? Key, byte[]? Value)> Make)[] BadKinds =
    [
        ("not json", "malformed_json", (k, ts) => ("ticks", Utf8(k), Utf8("this is not json " + k))),
        ("truncated", "malformed_json", (k, ts) => ("ticks", Utf8(k), Utf8($"{{\"symbol\":\"{k}\",\"ts\":{ts},\"price\":1"))),
        ("json array", "malformed_json", (k, ts) => ("vitals", Utf8(k), Utf8("[1,2,3]"))),
        ("tombstone", "malformed_json", (k, ts) => ("audio-features", Utf8(k), null)),
        ("invalid utf-8 in a value", "wrong_type", (k, ts) => ("ticks", Utf8(k), [.. Utf8($"{{\"symbol\":\"{k}\",\"ts\":{ts},\"price\":\""), 0xFF, 0xFE, .. Utf8("\",\"size\":1}")])),
        ("invalid utf-8 key", "invalid_key", (k, ts) => ("ticks", [.. Utf8(k), 0xFF], Utf8($"{{\"ts\":{ts},\"price\":10,\"size\":1}}"))),
        ("key differs from id", "key_mismatch", (k, ts) => ("vitals", Utf8(k), Utf8($"{{\"patient_id\":\"someone-else\",\"ts\":{ts},\"hr\":70}}"))),
        ("far-future ts", "timestamp_out_of_range", (k, ts) => ("ticks", Utf8(k), Utf8($"{{\"symbol\":\"{k}\",\"ts\":99999999999999999,\"price\":10,\"size\":1}}"))),
        ("negative ts", "timestamp_out_of_range", (k, ts) => ("audio-features", Utf8(k), Utf8($"{{\"stream_id\":\"{k}\",\"ts\":-5,\"frame\":1,\"coeffs\":[1,2,3,4,5,6,7,8,9,10,11,12,13]}}"))),
        ("denormal price", "impossible_value", (k, ts) => ("ticks", Utf8(k), Utf8($"{{\"symbol\":\"{k}\",\"ts\":{ts},\"price\":1e-310,\"size\":1}}"))),
        ("no key and no id", "missing_key", (k, ts) => ("vitals", null, Utf8($"{{\"ts\":{ts},\"hr\":70}}"))),
        ("deep nesting", "malformed_json", (k, ts) => ("vitals", Utf8(k), Utf8($"{{\"patient_id\":\"{k}\",\"ts\":{ts},\"x\":{new string('[', 200)}{new string(']', 200)}}}"))),
        ("no price", "missing_field", (k, ts) => ("ticks", Utf8(k), Utf8($"{{\"symbol\":\"{k}\",\"ts\":{ts},\"size\":1}}"))),
        ("no ts", "missing_field", (k, ts) => ("ticks", Utf8(k), Utf8($"{{\"symbol\":\"{k}\",\"price\":10,\"size\":1}}"))),
        ("string price", "wrong_type", (k, ts) => ("ticks", Utf8(k), Utf8($"{{\"symbol\":\"{k}\",\"ts\":{ts},\"price\":\"12\",\"size\":1}}"))),
        ("NaN price", "non_finite", (k, ts) => ("ticks", Utf8(k), Utf8($"{{\"symbol\":\"{k}\",\"ts\":{ts},\"price\":\"NaN\",\"size\":1}}"))),
        ("overflowing number", "non_finite", (k, ts) => ("vitals", Utf8(k), Utf8($"{{\"patient_id\":\"{k}\",\"ts\":{ts},\"hr\":1e400}}"))),
        ("negative price", "impossible_value", (k, ts) => ("ticks", Utf8(k), Utf8($"{{\"symbol\":\"{k}\",\"ts\":{ts},\"price\":-5,\"size\":1}}"))),
        ("spo2 over 100", "impossible_value", (k, ts) => ("vitals", Utf8(k), Utf8($"{{\"patient_id\":\"{k}\",\"ts\":{ts},\"spo2\":140}}"))),
        ("oversized", "oversized", (k, ts) => ("ticks", Utf8(k), Utf8($"{{\"symbol\":\"{k}\",\"ts\":{ts},\"price\":1,\"size\":1,\"pad\":\"{new string('x', 66_000)}\"}}"))),
        ("short coeffs", "wrong_length", (k, ts) => ("audio-features", Utf8(k), Utf8($"{{\"stream_id\":\"{k}\",\"ts\":{ts},\"frame\":1,\"coeffs\":[1,2,3]}}"))),
    ];

    [Fact]
    public async Task BadMessagesOfEveryKind_GoToTheDlq_GoodOnesGetForecasts_AndTheServiceFlowsOnAndStopsInTime()
    {
        // 100 oversized dead letters of 66 KB each are more than the mock broker keeps in one partition (~5 MB).
        using var kafka = KafkaTestKit.StartCluster(ticksPartitions: 4, dlqPartitions: 4);
        var ct = TestContext.Current.CancellationToken;
        using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, PipelineInvariantTests.Models(), [], group: "e2e-fault",
            extra: new() { ["Pipeline:ShutdownTimeout"] = "00:00:10", ["Pipeline:MaxBatch"] = "256", ["Pipeline:ChunkSize"] = "256" });

        // Wave 1: 10 500 messages, one in seven bad, cycling over every bad kind, keys spread over all partitions.
        var messages = new List<(string Topic, byte[]? Key, byte[]? Value)>();
        var good = new Dictionary<string, int>();
        var bad = new Dictionary<string, string>();
        var keyless = new List<string>();
        for (var i = 0; i < 10_500; i++)
        {
            var ts = T0 + (i * 10L);
            if (i % 7 == 3)
            {
                var kind = BadKinds[(i / 7) % BadKinds.Length];
                var m = kind.Make($"bad-{i}", ts);
                messages.Add(m);
                if (m.Key is null) keyless.Add(kind.Reason);
                else bad[Encoding.UTF8.GetString(m.Key)] = $"{kind.Reason} ({kind.Name})";
            }
            else
            {
                messages.Add(Good(i, ts, good));
            }
        }

        KafkaTestKit.Produce(kafka.BootstrapServers, messages.Select(m => (m.Topic, m.Key, m.Value!)));
        await host.StartAsync(ct);
        var goodCount = good.Values.Sum();
        var forecasts = KafkaTestKit.ReadAll(kafka.BootstrapServers, "forecasts", goodCount, Phase, "wave 1 forecasts");
        var dlq = KafkaTestKit.ReadAll(kafka.BootstrapServers, "streamlstm.dlq", bad.Count + keyless.Count, Phase, "wave 1 dead letters");

        // Every bad message once in the DLQ, with its reason (by key; keyless ones by count); every good key with exactly
        // its count of forecasts.
        var dlqByKey = dlq.Where(r => r.Message.Key is not null).GroupBy(r => Encoding.UTF8.GetString(r.Message.Key!)).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var (key, expected) in bad)
        {
            Assert.True(dlqByKey.TryGetValue(key, out var letters), $"bad message {key} ({expected}) is not in the DLQ");
            var letter = Assert.Single(letters);
            Assert.True(expected.StartsWith(KafkaTestKit.Header(letter, "reason") + " ", StringComparison.Ordinal), $"{key}: expected {expected}, got reason {KafkaTestKit.Header(letter, "reason")}");
        }

        Assert.Equal(keyless, dlq.Where(r => r.Message.Key is null).Select(r => KafkaTestKit.Header(r, "reason")));
        Assert.Equal(bad.Count + keyless.Count, dlq.Count);
        var forecastsByKey = forecasts.GroupBy(r => Encoding.UTF8.GetString(r.Message.Key!)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(good.OrderBy(k => k.Key), forecastsByKey.OrderBy(k => k.Key));
        var partitionsWithBad = dlq.Select(r => (KafkaTestKit.Header(r, "source.topic"), KafkaTestKit.Header(r, "source.partition"))).Distinct().Count();
        Assert.Equal(4 + 3 + 2, partitionsWithBad);

        // Wave 2: the pipeline still flows.
        var more = Enumerable.Range(10_500, 900).Select(i => Good(i, T0 + (i * 10L), good)).ToList();
        KafkaTestKit.Produce(kafka.BootstrapServers, more.Select(m => (m.Topic, m.Key, m.Value!)));
        KafkaTestKit.ReadAll(kafka.BootstrapServers, "forecasts", goodCount + more.Count, Phase, "wave 2 forecasts after the bad messages");

        var service = host.Services.GetRequiredService<PipelineHostedService>();
        Assert.Null(service.Failure);
        var sw = Stopwatch.StartNew();
        await host.StopAsync(ct).WaitAsync(Phase, ct);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10 + 15), $"stop took {sw.Elapsed} (bound 10 s + 15 s)");
        Assert.False(service.IncompleteShutdown, "the stop was cut short");
        var totals = (await service.Started).Totals();
        Assert.Equal(bad.Count + keyless.Count, totals.DeadLetters);
        Assert.Equal(0, totals.Undelivered);
        Assert.Equal(goodCount + more.Count, totals.Forecasts);
    }

    private static (string Topic, byte[]? Key, byte[]? Value) Good(int i, long ts, Dictionary<string, int> good)
    {
        var (topic, key, value) = (i % 3) switch
        {
            0 => ("ticks", $"SYM{i % 40}", Events.Tick($"SYM{i % 40}", ts, 100 + (i % 13), 1 + (i % 5))),
            1 => ("vitals", $"P{i % 25}", Events.Vitals($"P{i % 25}", ts, 60 + (i % 30), 95 + (i % 4))),
            _ => ("audio-features", $"A{i % 10}", Events.Audio($"A{i % 10}", ts, i, Coeffs(i))),
        };
        good[key] = good.GetValueOrDefault(key) + 1;
        return (topic, Utf8(key), value);
    }

    private static double[] Coeffs(int i) => [.. Enumerable.Range(0, 13).Select(c => Math.Sin((i * 0.1) + c))];

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
