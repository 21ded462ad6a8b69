using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Sink.Influx;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>
/// kill -9 recovery, end to end: the pipeline runs as a child process (<c>streamlstm run --State:Directory=…</c>) against
/// an embedded Kafka cluster hosted here, is SIGKILLed at random moments and restarted each time; the forecasts topic,
/// deduplicated by (source, key, input partition, offset), must equal an uninterrupted run's: nothing missing, nothing
/// different (bit for bit: the JSON carries every float in round-trip form). The killed lives also write to a real
/// influxd (sharing one spool directory, as one service's restarts do), which must end up holding exactly one forecast
/// point per event: the same barrier that orders the Kafka output before the checkpoint orders InfluxDB's.
/// <para>
/// Each life joins a fresh consumer group: the state store, not the group's committed offset, says where each partition
/// resumes (and a fresh group avoids waiting for the killed member's session to expire).
/// </para>
/// </summary>
public class KillRecoveryTests
{
    private const int EventCount = 100_000;
    private const int Kills = 6;

    [Fact]
    public async Task SigkillAtRandomMoments_ThenRestart_ForecastsEqualAnUninterruptedRun()
    {
        var ct = TestContext.Current.CancellationToken;
        using var kafka = ChildCluster.Start("forecasts-ref", "forecasts-kill");
        var events = Events.Mixed(EventCount, ticksKeys: 400, vitalsKeys: 250, audioKeys: 120, seed: 42);
        KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(events));

        // The uninterrupted run.
        using var reference = new ForecastReader(kafka.BootstrapServers, "forecasts-ref");
        using (var run = PipelineChild.Start(kafka.BootstrapServers, "ref", "forecasts-ref", stateDir: null))
        {
            await reference.WaitFor(EventCount, TimeSpan.FromMinutes(4), "uninterrupted run", run);
            run.Kill();
        }

        var expected = ForecastReader.Dedup(reference.Messages, out var refDuplicates);
        Assert.Equal(0, refDuplicates);
        Assert.Equal(EventCount, expected.Count);

        var state = Directory.CreateTempSubdirectory("streamlstm-kill-");
        await using var influx = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await influx.CreateDatabaseAsync("kill");
        var sink = new SinkTarget(influx.Url, "kill", Path.Combine(state.FullName, "sink"));
        try
        {
            using var killed = new ForecastReader(kafka.BootstrapServers, "forecasts-kill");
            var rng = new Random(2024);
            var kills = new List<string>();
            var finalLife = 0;
            for (var life = 0; life <= Kills; life++)
            {
                // The previous life's last forecasts are read first, so that this life's own output times its kill.
                await killed.WaitCaughtUp(kafka.BootstrapServers, TimeSpan.FromMinutes(1), $"before life {life}");
                using var run = PipelineChild.Start(kafka.BootstrapServers, $"kill-{life}", "forecasts-kill", Path.Combine(state.FullName, "state"), [.. sink.Arguments(), .. (life == Kills ? UntilCaughtUp : [])]);
                if (life == Kills)
                {
                    var before = killed.Count;
                    await killed.WaitForUnique(EventCount, TimeSpan.FromMinutes(4), "final life", run);
                    // The last life ends gracefully (--until-caught-up): its InfluxDB points are flushed, as a stopped service's are.
                    await run.WaitForExit(TimeSpan.FromMinutes(1), "final life: --until-caught-up exit");
                    // From scratch it would forecast every event again: resuming at the stored offsets forecasts fewer.
                    finalLife = killed.Count - before;
                    kills.Add($"last life: {finalLife} forecasts; stored offsets {StoredOffsets(Path.Combine(state.FullName, "state"))}");
                    break;
                }

                // A random moment: right at start-up once (nothing checkpointed yet), otherwise after a random amount of new output.
                var target = life == 1 ? killed.Count + 1 : killed.Count + rng.Next(1, EventCount / (Kills + 1));
                await killed.WaitFor(target, TimeSpan.FromMinutes(3), $"life {life}", run);
                if (life > 1)
                {
                    // With InfluxDB in the barrier a checkpoint takes longer than a short life: make sure this life wrote
                    // one (the group commits its offsets right after the checkpoint), so the lives make progress.
                    using var offsets = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = $"kill-{life}" }).Build();
                    await killed.WaitUntil(() => Committed(offsets) > 0, TimeSpan.FromMinutes(2), $"life {life}: a checkpoint", run);
                }

                run.Kill();
                kills.Add($"life {life}: killed at {killed.Count} forecasts ({killed.UniqueCount} unique); stored offsets {StoredOffsets(Path.Combine(state.FullName, "state"))}");
            }

            var points = await InfluxQuery.CountForecastsAsync(influx, "kill");
            kills.Add($"InfluxDB: {points} forecast points for {EventCount} events");
            var got = ForecastReader.Dedup(killed.Messages, out var duplicates);
            var missing = expected.Keys.Count(k => !got.ContainsKey(k));
            var divergent = expected.Count(e => got.TryGetValue(e.Key, out var v) && v != e.Value);
            var report = $"kill test: {EventCount} events, {Kills} SIGKILLs; {got.Count} unique forecasts, {missing} missing, {divergent} divergent, {duplicates} duplicates; the last life forecast {finalLife}\n  " + string.Join("\n  ", kills);
            TestContext.Current.SendDiagnosticMessage(report);
            Console.WriteLine(report);
            Assert.True(missing == 0 && divergent == 0 && got.Count == expected.Count, report);
            Assert.True(finalLife < EventCount, "the last life did not resume from the stored state: " + report);
            Assert.True(points == EventCount, "InfluxDB must hold exactly one forecast point per event: " + report);
        }
        finally
        {
            state.Delete(true);
        }
    }

    private static readonly TopicPartition[] Inputs =
    [
        .. Enumerable.Range(0, 4).Select(p => new TopicPartition("ticks", p)),
        .. Enumerable.Range(0, 3).Select(p => new TopicPartition("vitals", p)),
        .. Enumerable.Range(0, 3).Select(p => new TopicPartition("audio-features", p)),
    ];

    /// <summary>Input partitions with an offset committed by the consumer's group.</summary>
    private static int Committed(IConsumer<byte[], byte[]> group) => group.Committed(Inputs, TimeSpan.FromSeconds(10)).Count(o => o.Offset.Value >= 0);

    private static string StoredOffsets(string dir)
    {
        using var store = new StreamLstm.Streaming.Storage.RocksDb.RocksDbStateStore(new() { Directory = dir });
        var parts = new List<string>();
        foreach (var (kind, n) in new[] { (StreamLstm.Model.Forecasting.SourceKind.Tick, 4), (StreamLstm.Model.Forecasting.SourceKind.Vitals, 3), (StreamLstm.Model.Forecasting.SourceKind.Audio, 3) })
        {
            for (var p = 0; p < n; p++) parts.Add(store.ReadOffset(kind, p).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return string.Join(",", parts);
    }

    private static readonly string[] UntilCaughtUp = ["--until-caught-up", "--caught-up-for", "2s"];

    /// <summary>Where the killed lives write InfluxDB points (one spool and dead-letter directory for all lives).</summary>
    private sealed record SinkTarget(string Url, string Database, string Directory)
    {
        /// <summary>The child's sink settings (after the default <c>--Sink:Enabled=false</c>, so these win).</summary>
        public string[] Arguments() =>
        [
            "--Sink:Enabled=true", $"--Sink:Influx:Url={Url}", $"--Sink:Influx:Database={Database}", "--Sink:Influx:FlushInterval=00:00:00.200",
            $"--Sink:Spool:Directory={System.IO.Path.Combine(Directory, "spool")}", $"--Sink:DeadLetterDirectory={System.IO.Path.Combine(Directory, "dlq")}",
        ];
    }

    private static class InfluxQuery
    {
        /// <summary>Forecast points in <paramref name="db"/> (every forecast point has <c>mu_h1</c>).</summary>
        public static async Task<long> CountForecastsAsync(LocalInfluxd server, string db)
        {
            using var doc = await server.QueryAsync("SELECT count(\"mu_h1\") FROM \"forecast\"", db);
            var result = doc.RootElement.GetProperty("results")[0];
            return result.TryGetProperty("series", out var series) ? series[0].GetProperty("values")[0][1].GetInt64() : 0;
        }
    }
}
