using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>
/// State follows its partition: two or three <c>streamlstm run</c> processes in one consumer group, each with its own
/// state directory; one is SIGKILLed, its partitions move to the others, which rebuild their state from the changelog
/// and continue. The forecasts topic, deduplicated by (source, key, input partition, offset), must equal a single-process
/// run's: 0 missing, 0 divergent (a partition that moved with cold state would diverge). The test reports the time from
/// the kill to the new owner's first forecast of a moved partition.
/// </summary>
public partial class TakeoverTests
{
    private const int EventCount = 24_000;
    private static readonly (string Topic, SourceKind Kind, int Partitions)[] Inputs =
        [("ticks", SourceKind.Tick, 4), ("vitals", SourceKind.Vitals, 3), ("audio-features", SourceKind.Audio, 3)];

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task KillOneOfTheGroup_ItsPartitionsMoveWithTheirState_ForecastsEqualASingleProcessRun(int processes)
    {
        var ct = TestContext.Current.CancellationToken;
        using var kafka = EmbeddedKafka.Start(brokers: 1);
        foreach (var (topic, _, n) in Inputs) kafka.CreateTopic(topic, n);
        // The mock cluster does not serve CreateTopics: the changelog topics are created here, as deploy/ creates them.
        foreach (var (_, kind, n) in Inputs) kafka.CreateTopic("streamlstm.changelog." + kind.ToWireName(), n);
        kafka.CreateTopic("streamlstm.dlq", 1);
        kafka.CreateTopic("late", 1);
        kafka.CreateTopic("forecasts-ref", 16);
        kafka.CreateTopic("forecasts-group", 16);
        var events = Events.Mixed(EventCount, ticksKeys: 200, vitalsKeys: 120, audioKeys: 60, seed: 8);
        var half = EventCount / 2;
        var dirs = Enumerable.Range(0, processes).Select(_ => Directory.CreateTempSubdirectory("streamlstm-takeover-")).ToList();
        var children = new List<PipelineChild>();
        try
        {
            using var group = new ForecastReader(kafka.BootstrapServers, "forecasts-group");
            // The group forms before any input exists, so that every member owns partitions when the kill comes.
            for (var i = 0; i < processes; i++)
            {
                children.Add(PipelineChild.Start(kafka.BootstrapServers, "takeover", "forecasts-group", dirs[i].FullName,
                    "--Kafka:Client:session.timeout.ms=6000", "--Kafka:Client:heartbeat.interval.ms=500",
                    "--Logging:LogLevel:StreamLstm.Streaming.Hosting.PipelineHostedService=Information"));
            }

            await Until(() => children.All(c => Assigned(c.Log).Count > 0), TimeSpan.FromSeconds(60), "the group forms (every member assigned)", children,
                () => Task.WhenAny(children.Select(c => c.WaitOutput(TimeSpan.FromMilliseconds(250)))));
            KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(events.Take(half)));
            var firstHalfEnd = EndOffsets(kafka.BootstrapServers);
            await Until(() => group.UniqueCount >= half * 6 / 10, TimeSpan.FromSeconds(60), "the group forecasts most of the first half", children, () => group.WaitArrived(TimeSpan.FromMilliseconds(250)));

            // The victim's partitions are those of its newest assignment.
            var victim = children[0];
            var moved = Assigned(victim.Log);
            // The victim must have checkpointed its partitions once (the group commits right after a checkpoint), or there
            // is no state to move: on a loaded box 60 % of the first half can be forecast before the first checkpoint.
            var victimPartitions = moved.Select(m => { var input = Inputs.Single(i => i.Kind.ToWireName() == m.Source); return new TopicPartition(input.Topic, m.Partition); }).ToList();
            using (var offsets = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = kafka.BootstrapServers, GroupId = "takeover" }).Build())
            {
                await Until(() => offsets.Committed(victimPartitions, TimeSpan.FromSeconds(10)).Any(o => o.Offset.Value > 0), TimeSpan.FromSeconds(60),
                    "the victim checkpoints its partitions", children, () => group.WaitArrived(TimeSpan.FromMilliseconds(250)));
            }

            victim.Kill();
            var killedAt = Stopwatch.GetTimestamp();
            KafkaTestKit.Produce(kafka.BootstrapServers, KafkaTestKit.AsMessages(events.Skip(half)));
            var survivors = children.Skip(1).ToList();
            await Until(() => group.UniqueCount >= EventCount, TimeSpan.FromSeconds(90), "the survivors forecast every event", survivors, () => group.WaitArrived(TimeSpan.FromMilliseconds(250)));

            // Kill → the new owner's first forecast of an event the victim never read (past the first half's end offset).
            var firsts = moved.Select(m => group.Arrivals.Where(a => a.At > killedAt && a.Source == m.Source && a.Partition == m.Partition
                    && a.Offset >= firstHalfEnd[(m.Source, m.Partition)]).Select(a => a.At).DefaultIfEmpty(0).Min())
                .Where(t => t > 0).Select(t => Stopwatch.GetElapsedTime(killedAt, t).TotalSeconds).ToList();
            var rebuilt = survivors.Sum(c => RebuiltRegex().Count(c.Log));
            var rebuildMs = survivors.SelectMany(c => RebuildTimeRegex().Matches(c.Log)).Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
            foreach (var c in survivors) c.Kill();

            using (var reference = new ForecastReader(kafka.BootstrapServers, "forecasts-ref"))
            using (var run = PipelineChild.Start(kafka.BootstrapServers, "ref", "forecasts-ref", stateDir: null))
            {
                await reference.WaitForUnique(EventCount, TimeSpan.FromSeconds(90), "single-process run", run);
                run.Kill();
                var expected = ForecastReader.Dedup(reference.Messages, out _);
                var got = ForecastReader.Dedup(group.Messages, out var duplicates);
                var missing = expected.Keys.Count(k => !got.ContainsKey(k));
                var divergent = expected.Count(e => got.TryGetValue(e.Key, out var v) && v != e.Value);
                var report = string.Create(CultureInfo.InvariantCulture,
                    $"takeover, {processes} processes: {EventCount} events; killed a member owning {moved.Count} partitions ({string.Join(",", moved.Select(m => $"{m.Source}[{m.Partition}]"))}); " +
                    $"{rebuilt} partition stores rebuilt from the changelog (slowest {rebuildMs:0.0} ms); {got.Count} unique forecasts, {missing} missing, {divergent} divergent, {duplicates} duplicates; " +
                    $"kill → new owner's first forecast of a moved partition: {(firsts.Count == 0 ? "n/a" : $"{firsts.Min():0.00} s (last moved partition {firsts.Max():0.00} s)")}, session.timeout.ms=6000");
                TestContext.Current.SendDiagnosticMessage(report);
                Console.WriteLine(report);
                Assert.True(missing == 0 && divergent == 0 && got.Count == expected.Count, report + "\n" + string.Join("\n----\n", survivors.Select(s => s.Log)));
                Assert.True(moved.Count > 0 && rebuilt > 0, "no partition moved with its state: " + report);
                Assert.Equal(moved.Count, firsts.Count);
            }
        }
        finally
        {
            foreach (var c in children) c.Dispose();
            foreach (var d in dirs) d.Delete(true);
        }
    }

    /// <summary>The (source, partition) pairs of a member's newest "Assigned" log line.</summary>
    private static List<(string Source, int Partition)> Assigned(string log)
    {
        var last = AssignedRegex().Matches(log).LastOrDefault();
        if (last is null) return [];
        return [.. PartitionRegex().Matches(last.Groups[1].Value).Select(m => (Inputs.Single(i => i.Topic == m.Groups[1].Value).Kind.ToWireName(), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))];
    }

    private static Dictionary<(string, int), long> EndOffsets(string bootstrap)
    {
        using var c = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "watermarks" }).Build();
        var d = new Dictionary<(string, int), long>();
        foreach (var (topic, kind, n) in Inputs)
        {
            for (var p = 0; p < n; p++) d[(kind.ToWireName(), p)] = c.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(30)).High.Value;
        }

        return d;
    }

    private static async Task Until(Func<bool> done, TimeSpan timeout, string phase, IReadOnlyList<PipelineChild> children, Func<Task> wake)
    {
        var sw = Stopwatch.StartNew();
        while (!done())
        {
            foreach (var c in children) Assert.True(!c.HasExited, $"{phase}: a member exited early ({c.ExitCode}):\n{c.Log}");
            Assert.True(sw.Elapsed < timeout, $"{phase}: not within {timeout.TotalSeconds:0}s\n" + string.Join("\n----\n", children.Select(c => c.Log)));
            // Woken by the next forecast or output line; the bound only lets the exit and timeout checks run meanwhile.
            await wake();
        }
    }

    [GeneratedRegex(@"Assigned [1-9]\d* partitions: ([^\r\n]*)")]
    private static partial Regex AssignedRegex();

    [GeneratedRegex(@"([A-Za-z0-9._-]+)\[(\d+)\]")]
    private static partial Regex PartitionRegex();

    [GeneratedRegex(@"State changelog \w+\[\d+\]: rebuilt")]
    private static partial Regex RebuiltRegex();

    [GeneratedRegex(@"State changelog \w+\[\d+\]: rebuilt .* in ([0-9.]+) ms")]
    private static partial Regex RebuildTimeRegex();
}
