using System.Diagnostics;
using System.Text.RegularExpressions;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>
/// <c>Kafka:Guarantee=exactly_once</c> against the embedded mock cluster. A child process runs with the first
/// checkpoint's transaction failing on purpose: it aborts and exits 1 without writing its state; the restart resumes
/// from the store (empty: from the beginning), commits one transaction per checkpoint and ends with forecasts equal to
/// an uninterrupted at-least-once run, with no duplicate (this mock drops an aborted transaction's messages; a real
/// broker keeps them behind an abort marker, hidden from read_committed readers). Kills of a transactional run against a real broker: deploy/exactly-once-check.sh.
/// </summary>
public partial class ExactlyOnceTests
{
    private const int EventCount = 20_000;

    [Fact]
    public async Task InjectedTransactionFailure_Aborts_ThenRestartFromStore_OneTransactionPerCheckpoint_ForecastsEqualUninterruptedRun()
    {
        using var kafka = ChildCluster.Start("forecasts-ref", "forecasts-eo");
        var events = Events.Mixed(EventCount, ticksKeys: 200, vitalsKeys: 120, audioKeys: 60, seed: 7);
        KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(events));

        using var reference = new ForecastReader(kafka.BootstrapServers, "forecasts-ref");
        using (var run = PipelineChild.Start(kafka.BootstrapServers, "ref", "forecasts-ref", stateDir: null))
        {
            await reference.WaitFor(EventCount, TimeSpan.FromMinutes(2), "uninterrupted at-least-once run", run);
            run.Kill();
        }

        var expected = ForecastReader.Dedup(reference.Messages, out _);
        Assert.Equal(EventCount, expected.Count);

        var state = Directory.CreateTempSubdirectory("streamlstm-eo-");
        try
        {
            using var eo = new ForecastReader(kafka.BootstrapServers, "forecasts-eo");
            string[] exactlyOnce = ["--Kafka:Guarantee=exactly_once", "--Kafka:TransactionalId=eo-test", "--Logging:LogLevel:StreamLstm.Streaming.Hosting.PipelineHostedService=Information"];

            // Life 1: the first checkpoint's transaction fails before its commit.
            string log1;
            using (var run = PipelineChild.Start(kafka.BootstrapServers, "eo", "forecasts-eo", state.FullName, [.. exactlyOnce, "--Kafka:FailTransactionAt=1", "--Kafka:CommitInterval=00:00:01"]))
            {
                await WaitExit(run, TimeSpan.FromMinutes(1), "life 1 (injected transaction failure)");
                log1 = run.Log;
                Assert.True(run.ExitCode == 1, $"life 1 should exit 1 after the aborted transaction, exited {run.ExitCode}:\n{log1}");
            }

            Assert.Contains("transaction aborted", log1, StringComparison.Ordinal);
            Assert.Contains("injected failure of transaction 1", log1, StringComparison.Ordinal);
            // Nothing of the aborted checkpoint was stored: every partition restarts from the beginning.
            Assert.All(StoredOffsets(state.FullName), o => Assert.Equal(-1, o));

            // Life 2: resumes from the store (nothing was stored: the aborted checkpoint wrote nothing) and stops once caught up.
            string log2;
            using (var run = PipelineChild.Start(kafka.BootstrapServers, "eo", "forecasts-eo", state.FullName, [.. exactlyOnce, "--until-caught-up", "--caught-up-for", "1s"]))
            {
                await WaitExit(run, TimeSpan.FromMinutes(2), "life 2 (until caught up)");
                log2 = run.Log;
                Assert.True(run.ExitCode == 0, $"life 2 should exit 0 once caught up, exited {run.ExitCode}:\n{log2}");
            }

            // Transaction markers take offsets too: wait for the unique forecasts, not the watermark.
            var sw = Stopwatch.StartNew();
            while (eo.UniqueCount < EventCount && sw.Elapsed < TimeSpan.FromSeconds(30)) await eo.WaitArrived(TimeSpan.FromMilliseconds(250));
            var m = TransactionsLine().Match(log2);
            Assert.True(m.Success, "life 2 did not report its transactions:\n" + log2);
            var commits = long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            var aborts = long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            var checkpoints = long.Parse(m.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(commits >= 2 && commits == checkpoints && aborts == 0, $"one committed transaction per checkpoint expected: {m.Value}");

            var got = ForecastReader.Dedup(eo.Messages, out var duplicates);
            var missing = expected.Keys.Count(k => !got.ContainsKey(k));
            var divergent = expected.Count(e => got.TryGetValue(e.Key, out var v) && v != e.Value);
            var aborted = long.Parse(StoppedLine().Match(log1).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            var report = $"exactly-once: life 1 handed {aborted} forecasts to its aborted transaction; {eo.Count} forecasts read over both lives; {got.Count} unique, {missing} missing, {divergent} divergent, " +
                $"{duplicates} duplicates for a read_committed reader; life 2: {m.Value}";
            TestContext.Current.SendDiagnosticMessage(report);
            Assert.True(missing == 0 && divergent == 0 && got.Count == expected.Count, report);
            // The aborted transaction carried forecasts, yet no reader saw them (the mock drops an aborted transaction's
            // messages): the restart produced each of them once, in committed transactions.
            Assert.True(aborted > 0, "life 1's aborted transaction carried no forecasts, so the abort was not exercised:\n" + log1);
            Assert.True(duplicates == 0, "a read_committed reader saw forecasts of the aborted transaction: " + report);
        }
        finally
        {
            state.Delete(true);
        }
    }

    private static async Task WaitExit(PipelineChild run, TimeSpan timeout, string phase)
    {
        var sw = Stopwatch.StartNew();
        while (!run.HasExited)
        {
            Assert.True(sw.Elapsed < timeout, $"{phase}: the pipeline did not exit within {timeout.TotalSeconds:0}s\n{run.Log}");
            // Woken by the child's next output line; the bound lets the exit check run while it is quiet.
            await run.WaitOutput(TimeSpan.FromMilliseconds(250));
        }
    }

    private static List<long> StoredOffsets(string dir)
    {
        using var store = new StreamLstm.Streaming.Storage.RocksDb.RocksDbStateStore(new() { Directory = dir });
        var offsets = new List<long>();
        foreach (var (kind, n) in new[] { (StreamLstm.Model.Forecasting.SourceKind.Tick, 4), (StreamLstm.Model.Forecasting.SourceKind.Vitals, 3), (StreamLstm.Model.Forecasting.SourceKind.Audio, 3) })
        {
            for (var p = 0; p < n; p++) offsets.Add(store.ReadOffset(kind, p));
        }

        return offsets;
    }

    [GeneratedRegex(@"Pipeline stopped after \d+ events: (\d+) forecasts")]
    private static partial Regex StoppedLine();

    [GeneratedRegex(@"Exactly-once: (\d+) transactions committed, (\d+) aborted; (\d+) checkpoints")]
    private static partial Regex TransactionsLine();
}
