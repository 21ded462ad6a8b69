using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Weights;
using StreamLstm.Streaming.Broker;
using StreamLstm.Streaming.Generate;
using StreamLstm.Streaming.Hosting;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Cli;

/// <summary><c>streamlstm run --until-caught-up</c> as a child process against a generated input.</summary>
public class RunCommandTests
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);

    [Fact]
    public async Task UntilCaughtUp_ExitsZero_AfterOneForecastPerGeneratedEvent_WithTheGivenModelAndStateDir()
    {
        using var kafka = StartBroker();
        var settings = new GenerateSettings { BootstrapServers = kafka.BootstrapServers, Events = 900, Seed = 3, Symbols = 30, Patients = 10, AudioStreams = 6 };
        Assert.Equal(0, await GenerateCommand.RunAsync(settings, TextWriter.Null, TextWriter.Null, CancellationToken.None));

        var dir = Directory.CreateTempSubdirectory("streamlstm-run-test-").FullName;
        try
        {
            var tickModel = PipelineModels.CreateRandom(SourceKind.Tick, new ModelSettings { Hidden = 8 }, 13);
            tickModel.Metadata = tickModel.Metadata with { Version = "cli-test-tick" };
            ModelFile.Save(tickModel, Path.Combine(dir, "tick.safetensors"));
            var stateDir = Path.Combine(dir, "state", "run1");

            await using var run = CliProcess.Start("run", "--bootstrap-servers", kafka.BootstrapServers, "--state-dir", stateDir, "--model", "tick=" + Path.Combine(dir, "tick.safetensors"),
                "--until-caught-up", "--caught-up-for", "1s", "--Kafka:GroupId=run-test", "--Kafka:ForecastsTopic=fc-run-test", "--Web:Enabled=false");
            var code = await run.WaitForExitAsync(RunTimeout, "run --until-caught-up");
            Assert.True(code == 0, $"run exited {code}. Output:\n{run.Output}");
            Assert.Contains("caught up:", run.Output, StringComparison.Ordinal);

            Assert.True(Directory.Exists(stateDir), "--state-dir was not created");
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(stateDir));
            }

            // Everything it consumed was forecast and delivered before it exited: one forecast per generated event, no more.
            var forecasts = KafkaTestKit.ReadAll(kafka.BootstrapServers, "fc-run-test", 900, TimeSpan.FromSeconds(60), "read forecasts");
            Assert.Equal(900, EndOffsetsSum(kafka.BootstrapServers, "fc-run-test"));
            var identities = new HashSet<(string, string, int, long)>();
            var versions = new Dictionary<string, HashSet<string>>();
            foreach (var r in forecasts)
            {
                using var doc = JsonDocument.Parse(r.Message.Value);
                var f = doc.RootElement;
                var source = f.GetProperty("source").GetString()!;
                identities.Add((source, f.GetProperty("key").GetString()!, f.GetProperty("partition").GetInt32(), f.GetProperty("offset").GetInt64()));
                (versions.TryGetValue(source, out var v) ? v : versions[source] = []).Add(f.GetProperty("model_version").GetString()!);
            }

            Assert.Equal(900, identities.Count);
            Assert.Equal(["cli-test-tick"], versions["tick"]);
            Assert.StartsWith("random-vitals", Assert.Single(versions["vitals"]), StringComparison.Ordinal);
            Assert.Contains("randomly initialised", run.Output, StringComparison.Ordinal); // vitals and audio had no --model
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task UntilCaughtUp_GroupAlreadyCommittedTheEnd_ExitsZeroWithoutReprocessing()
    {
        // A restart after a finished backfill: this process stores nothing (it gets nothing), yet it is caught up.
        using var kafka = StartBroker();
        var settings = new GenerateSettings { BootstrapServers = kafka.BootstrapServers, Events = 300, Symbols = 10, Patients = 10, AudioStreams = 3 };
        Assert.Equal(0, await GenerateCommand.RunAsync(settings, TextWriter.Null, TextWriter.Null, CancellationToken.None));
        CommitEnd(kafka.BootstrapServers, "finished-backfill");

        await using var run = CliProcess.Start("run", "--bootstrap-servers", kafka.BootstrapServers, "--until-caught-up", "--caught-up-for", "1s",
            "--Kafka:GroupId=finished-backfill", "--Kafka:ForecastsTopic=fc-restart", "--Web:Enabled=false");
        var code = await run.WaitForExitAsync(RunTimeout, "run --until-caught-up after the group committed the end");
        Assert.True(code == 0, $"run exited {code}. Output:\n{run.Output}");
        Assert.Contains(", 0 messages consumed", run.Output, StringComparison.Ordinal);
        Assert.Equal(0, EndOffsetsSum(kafka.BootstrapServers, "fc-restart"));
    }

    [Fact]
    public async Task UnknownModelKind_ExitsTwo_NamingTheValue()
    {
        await using var run = CliProcess.Start("run", "--bootstrap-servers", "127.0.0.1:9", "--model", "weather=x.safetensors");
        Assert.Equal(2, await run.WaitForExitAsync(RunTimeout, "run with a bad --model"));
        Assert.Contains("unknown kind 'weather'", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UntilCaughtUp_AgainstNoBroker_ExitsOne_AfterTheAssignmentTimeout_NamingTheBrokers()
    {
        // Port 9 (discard) on loopback: nothing listens, every connection is refused; without the timeout the backfill waits forever.
        await using var run = CliProcess.Start("run", "--bootstrap-servers", "127.0.0.1:9", "--until-caught-up", "--assignment-timeout", "3s");
        Assert.Equal(1, await run.WaitForExitAsync(RunTimeout, "run --until-caught-up against no broker"));
        Assert.Contains("no partition was assigned within 3 s", run.Output, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1:9", run.Output, StringComparison.Ordinal);
    }

    private static EmbeddedKafka StartBroker()
    {
        var kafka = EmbeddedKafka.Start(brokers: 1);
        foreach (var topic in BrokerCommand.Topics) kafka.CreateTopic(topic, 3);
        return kafka;
    }

    private static long EndOffsetsSum(string bootstrap, string topic)
    {
        using var c = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "end-offsets" }).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        var meta = admin.GetMetadata(topic, TimeSpan.FromSeconds(30)).Topics.Single();
        if (meta.Error.IsError) return 0; // never written: the topic does not exist
        return meta.Partitions.Sum(p => Math.Max(0, c.QueryWatermarkOffsets(new TopicPartition(topic, p.PartitionId), TimeSpan.FromSeconds(30)).High.Value));
    }

    private static void CommitEnd(string bootstrap, string group)
    {
        using var c = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = group, EnableAutoCommit = false }).Build();
        var offsets = new List<TopicPartitionOffset>();
        foreach (var topic in new[] { "ticks", "vitals", "audio-features" })
        {
            for (var p = 0; p < 3; p++)
            {
                var tp = new TopicPartition(topic, p);
                offsets.Add(new TopicPartitionOffset(tp, c.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(30)).High));
            }
        }

        c.Commit(offsets);
        var committed = c.Committed(offsets.Select(o => o.TopicPartition), TimeSpan.FromSeconds(30));
        Assert.Equal(offsets.Select(o => o.Offset.Value), offsets.Select(o => committed.Single(x => x.TopicPartition == o.TopicPartition).Offset.Value));
        Assert.True(offsets.Sum(o => o.Offset.Value) > 0, string.Create(CultureInfo.InvariantCulture, $"nothing generated to commit past"));
    }
}
