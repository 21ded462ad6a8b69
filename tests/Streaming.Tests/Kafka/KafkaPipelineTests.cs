using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Kafka;

[Collection("kafka")]
public class KafkaPipelineTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData("client")]
    [InlineData("native")]
    public async Task NEventsOverPartitions_GiveExactlyNForecasts_InOrderPerKey_EqualToSequenceForward_AndBadOnesGoToDlq(string consumePath)
    {
        using var kafka = KafkaTestKit.StartCluster();
        var models = PipelineInvariantTests.Models();
        var events = Events.Mixed(2000, ticksKeys: 30, vitalsKeys: 12, audioKeys: 6, seed: 21);
        var bad = new (string Topic, byte[]? Key, byte[] Value, string Reason)[]
        {
            ("ticks", "SYM1"u8.ToArray(), "{\"symbol\":\"SYM1\",\"ts\":"u8.ToArray(), "malformed_json"),
            ("ticks", null, "{\"ts\":1700000000000,\"price\":5,\"size\":1}"u8.ToArray(), "missing_key"),
            ("ticks", "SYM2"u8.ToArray(), "{\"symbol\":\"SYM2\",\"ts\":1700000000000,\"price\":\"5\",\"size\":1}"u8.ToArray(), "wrong_type"),
            ("ticks", "SYM3"u8.ToArray(), "{\"symbol\":\"SYM3\",\"ts\":1700000000000,\"price\":\"NaN\",\"size\":1}"u8.ToArray(), "non_finite"),
            ("ticks", "SYM4"u8.ToArray(), "{\"symbol\":\"SYM4\",\"ts\":1700000000000,\"price\":0,\"size\":1}"u8.ToArray(), "impossible_value"),
            ("vitals", "P1"u8.ToArray(), "{\"patient_id\":\"P1\",\"ts\":1700000000000,\"spo2\":104}"u8.ToArray(), "impossible_value"),
            ("vitals", "P2"u8.ToArray(), "{\"patient_id\":\"P2\",\"ts\":1700000000000,\"hr\":-4}"u8.ToArray(), "impossible_value"),
            ("audio-features", "A1"u8.ToArray(), Encoding.UTF8.GetBytes("{\"stream_id\":\"A1\",\"ts\":1,\"frame\":1,\"coeffs\":[" + string.Join(",", Enumerable.Repeat("1", 40000)) + "]}"), "oversized"),
        };
        // Bad messages interleaved with the good ones (a bad message must not stop its neighbours).
        var messages = KafkaTestKit.AsMessages(events).ToList();
        for (var i = 0; i < bad.Length; i++) messages.Insert(i * 200 + 100, (bad[i].Topic, bad[i].Key, bad[i].Value));
        // A tick older than everything its symbol has seen: goes to the late topic, state untouched.
        var lateTick = Events.Tick("SYM0", 1_600_000_000_000, 100, 1);
        messages.Add(("ticks", "SYM0"u8.ToArray(), lateTick));
        KafkaTestKit.Produce(kafka.BootstrapServers, messages);

        var output = new CollectingOutput();
        using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, models, [output], extra: new() { ["Kafka:ConsumePath"] = consumePath });
        await host.StartAsync(TestContext.Current.CancellationToken);
        await output.WaitForCount(events.Count, Phase, "consume phase");
        var service = host.Services.GetRequiredService<PipelineHostedService>();
        var pipeline = await service.Started;

        // Per key: count, order and values equal the Model's sequence forward over that key's events alone.
        var byKey = output.Rows.GroupBy(r => (r.Source, r.Key)).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var group in events.GroupBy(e => (e.Kind, e.Key)))
        {
            var values = group.Select(e => e.Value).ToList();
            var rows = byKey[group.Key];
            Assert.Equal(values.Count, rows.Count);
            Assert.Equal(group.Select(e => Json(e.Value).GetProperty("ts").GetInt64()), rows.Select(r => r.TimestampMs));
            var expected = Reference.ForKey(models[group.Key.Kind], group.Key.Kind, values);
            for (var i = 0; i < rows.Count; i++)
            {
                Reference.AssertClose(expected.Mu[i], rows[i].Mu, 1e-5, $"{group.Key} step {i} mu");
            }

            var engine = pipeline.Workers.Select(w => w.Engine(group.Key.Kind)!).Single(e => e.FindSlot(group.Key.Key) >= 0);
            var slot = engine.FindSlot(group.Key.Key);
            var cfg = models[group.Key.Kind].Config;
            for (var l = 0; l < cfg.Layers; l++)
            {
                Reference.AssertClose(expected.H.AsSpan(l * cfg.HiddenSize, cfg.HiddenSize), engine.Slab.H(slot, l), 1e-6, $"{group.Key} h{l}");
            }
        }

        await host.StopAsync(TestContext.Current.CancellationToken);

        // The forecasts topic got exactly one message per good event, each key's in event order.
        var forecasts = KafkaTestKit.ReadAll(kafka.BootstrapServers, "forecasts", events.Count, Phase, "forecasts topic");
        var topicRows = forecasts.Select(f => Json(f.Message.Value!)).ToList();
        Assert.Equal(events.Count, topicRows.Count);
        foreach (var g in topicRows.GroupBy(j => (j.GetProperty("source").GetString(), j.GetProperty("key").GetString())))
        {
            var ts = g.Select(j => j.GetProperty("ts").GetInt64()).ToList();
            Assert.Equal(ts.Order(), ts);
        }

        Assert.Equal(models[SourceKind.Tick].Config.Horizons, topicRows[0].GetProperty("mu").GetArrayLength());

        // Every bad message is in the DLQ with its reason, original bytes and source coordinates.
        var dlq = KafkaTestKit.ReadAll(kafka.BootstrapServers, "streamlstm.dlq", bad.Length, Phase, "dlq topic");
        Assert.Equal(bad.Select(b => (b.Reason, Convert.ToBase64String(b.Value))).Order(), dlq.Select(d => (KafkaTestKit.Header(d, "reason"), Convert.ToBase64String(d.Message.Value!))).Order());
        var late = KafkaTestKit.ReadAll(kafka.BootstrapServers, "late", 1, Phase, "late topic");
        Assert.Equal("late", KafkaTestKit.Header(late[0], "reason"));
        Assert.Equal(lateTick, late[0].Message.Value);
        Assert.Equal("ticks", KafkaTestKit.Header(late[0], "source.topic"));
        Assert.All(dlq, d =>
        {
            Assert.Contains(KafkaTestKit.Header(d, "source.topic"), new[] { "ticks", "vitals", "audio-features" });
            Assert.True(long.Parse(KafkaTestKit.Header(d, "source.offset"), System.Globalization.CultureInfo.InvariantCulture) >= 0);
            Assert.NotEqual("", KafkaTestKit.Header(d, "source.partition"));
        });
    }

    [Fact]
    public async Task ConsumePaths_GiveBitIdenticalForecasts()
    {
        using var kafka = KafkaTestKit.StartCluster();
        var models = PipelineInvariantTests.Models();
        var events = Events.Mixed(1500, ticksKeys: 20, vitalsKeys: 8, audioKeys: 4, seed: 33);
        KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(events));
        var rows = new Dictionary<string, List<ForecastRow>>();
        foreach (var path in new[] { "client", "native" })
        {
            var output = new CollectingOutput();
            using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, models, [output], group: "bits-" + path, extra: new() { ["Kafka:ConsumePath"] = path });
            await host.StartAsync(TestContext.Current.CancellationToken);
            await output.WaitForCount(events.Count, Phase, $"{path} consume phase");
            await host.StopAsync(TestContext.Current.CancellationToken);
            rows[path] = [.. output.Rows.OrderBy(r => r.Source).ThenBy(r => r.Key, StringComparer.Ordinal).ThenBy(r => r.Offset)];
        }

        // Same rows, same bits: the path only changes how the bytes reach the decoder.
        Assert.Equal(events.Count, rows["native"].Count);
        Assert.Equal(rows["client"].Select(Bits), rows["native"].Select(Bits));
        static string Bits(ForecastRow r) =>
            $"{r.Source}/{r.Key}/{r.Partition}@{r.Offset} {r.TimestampMs} {BitConverter.DoubleToInt64Bits(r.Observed)} {string.Join(',', r.Mu.Select(BitConverter.SingleToInt32Bits))} {string.Join(',', r.Sigma.Select(BitConverter.SingleToInt32Bits))}";
    }

    [Fact]
    public async Task StopAndRestart_ContinuesWhereItStopped_WithNoEventUnprocessed()
    {
        using var kafka = KafkaTestKit.StartCluster();
        var models = PipelineInvariantTests.Models();
        var all = Events.Mixed(1600, 20, 6, 3, seed: 5);
        var first = all.Take(900).ToList();
        var second = all.Skip(900).ToList();
        KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(first));

        var out1 = new CollectingOutput();
        using (var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, models, [out1], group: "restart"))
        {
            await host.StartAsync(TestContext.Current.CancellationToken);
            await out1.WaitForCount(first.Count, Phase, "first run");
            await host.StopAsync(TestContext.Current.CancellationToken);
        }

        KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(second));
        var out2 = new CollectingOutput();
        using (var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, models, [out2], group: "restart"))
        {
            await host.StartAsync(TestContext.Current.CancellationToken);
            await out2.WaitForCount(second.Count, Phase, "second run");
            await host.StopAsync(TestContext.Current.CancellationToken);
        }

        // Graceful stop committed everything: the second run saw exactly the new events.
        Assert.Equal(first.Count, out1.Count);
        Assert.Equal(second.Count, out2.Count);
        var seen = out1.Rows.Concat(out2.Rows).Select(r => (r.Source, r.Key, r.TimestampMs)).ToHashSet();
        Assert.Equal(all.Count, seen.Count);
    }

    [Fact]
    public async Task SlowOutput_PausesConsumption_WithBoundedBuffering_ThenEverythingFlows()
    {
        using var kafka = KafkaTestKit.StartCluster(ticksPartitions: 4);
        var models = PipelineInvariantTests.Models(hidden: 8, layers: 1);
        var events = Events.Mixed(20_000, 200, 0, 0, seed: 9);
        KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(events));
        using var gate = new SemaphoreSlim(0);
        var output = new CollectingOutput(gate);
        const int chunk = 50, capacity = 2, maxPoll = 200, workers = 2;
        using var host = KafkaTestKit.BuildHost(kafka.BootstrapServers, models, [output], group: "slow", extra: new()
        {
            ["Pipeline:ChunkSize"] = chunk.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Pipeline:ChannelCapacity"] = capacity.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Kafka:MaxPollMessages"] = maxPoll.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Pipeline:MaxBatch"] = "16",
        });
        await host.StartAsync(TestContext.Current.CancellationToken);
        var service = host.Services.GetRequiredService<PipelineHostedService>();
        await service.Started;
        var consumer = service.Consumer!;
        Assert.True(SpinWait.SpinUntil(() => consumer.Pauses > 0 && consumer.PausedLanes == workers, TimeSpan.FromSeconds(60)),
            $"backpressure phase: lanes were not paused (pauses {consumer.Pauses}, paused lanes {consumer.PausedLanes}, consumed {consumer.Consumed})");

        // With the output blocked, what the process took from Kafka is bounded by channels + held chunks + one poll round,
        // not by the 20 000 messages waiting in the topic.
        var bound = workers * (capacity + 3) * chunk + maxPoll + workers * 16;
        Assert.True(consumer.Consumed <= bound, $"backpressure phase: consumed {consumer.Consumed} messages with the output blocked (bound {bound})");
        Assert.True(SpinWait.SpinUntil(() => consumer.Consumed <= bound && consumer.PausedLanes == workers, TimeSpan.FromSeconds(1)), "lanes stayed paused");

        gate.Release(int.MaxValue / 2);
        await output.WaitForCount(events.Count, Phase, "drain phase after releasing the output");
        await host.StopAsync(TestContext.Current.CancellationToken);
        Assert.Equal(events.Count, output.Count);
    }

    [Fact]
    public async Task InvalidOptions_FailAtStartup_SayingWhatToFix()
    {
        using var host = StreamLstmHost.CreateBuilder([], null, new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = "",
            ["Kafka:ForecastsTopic"] = "ticks",
            ["Pipeline:Workers"] = "-1",
            ["Pipeline:NormalisationAlpha"] = "0",
            ["Models:TickModel"] = "/nonexistent/tick.safetensors",
        }).Build();
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));
        var all = string.Join("\n", StartupErrors.Describe(ex) ?? [ex.ToString()]);
        Assert.Contains("Kafka:BootstrapServers is empty: pass --bootstrap-servers", all);
        Assert.Contains("Kafka:ForecastsTopic 'ticks' is also an input topic", all);
        Assert.Contains("Pipeline:Workers must be 0 (one per core) to 256", all);
        Assert.Contains("Pipeline:NormalisationAlpha must be in (0, 1]", all);
        Assert.Contains("Models:TickModel file '/nonexistent/tick.safetensors' does not exist", all);
    }

    [Fact]
    public void BadBootstrapServers_AreNamed()
    {
        var r = new KafkaSettingsValidator().Validate(null, new KafkaSettings { BootstrapServers = "localhost:9092,broker" });
        Assert.True(r.Failed);
        Assert.Contains("'broker' is not HOST:PORT", r.FailureMessage);
    }

    [Fact]
    public void NativeForecastProducePath_UnderExactlyOnce_IsRefusedAtStartUp()
    {
        var ok = new KafkaSettingsValidator().Validate(null, new KafkaSettings { BootstrapServers = "localhost:9092", ForecastProducePath = Sink.Kafka.ForecastProducePath.Native });
        Assert.False(ok.Failed);
        var r = new KafkaSettingsValidator().Validate(null, new KafkaSettings { BootstrapServers = "localhost:9092", ForecastProducePath = Sink.Kafka.ForecastProducePath.Native, Guarantee = "exactly_once" });
        Assert.True(r.Failed);
        Assert.Contains("Kafka:ForecastProducePath=native cannot be used with Kafka:Guarantee=exactly_once", r.FailureMessage);
    }

    [Fact]
    public void NativeConsumePath_UnderExactlyOnce_IsRefusedAtStartUp()
    {
        var ok = new KafkaSettingsValidator().Validate(null, new KafkaSettings { BootstrapServers = "localhost:9092", ConsumePath = Ingest.Consumer.ConsumePath.Native });
        Assert.False(ok.Failed);
        var r = new KafkaSettingsValidator().Validate(null, new KafkaSettings { BootstrapServers = "localhost:9092", ConsumePath = Ingest.Consumer.ConsumePath.Native, Guarantee = "exactly_once" });
        Assert.True(r.Failed);
        Assert.Contains("Kafka:ConsumePath=native cannot be used with Kafka:Guarantee=exactly_once", r.FailureMessage);
    }

    private static JsonElement Json(byte[] utf8) => JsonDocument.Parse(utf8).RootElement;
}

[CollectionDefinition("kafka", DisableParallelization = true)]
public sealed class KafkaCollection
{
}
