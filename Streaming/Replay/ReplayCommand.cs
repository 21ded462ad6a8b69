using System.CommandLine;
using System.Globalization;
using StreamLstm.Ingest.Generators;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Ingest.Replay;
using StreamLstm.Streaming.Cli;

namespace StreamLstm.Streaming.Replay;

/// <summary>
/// <c>replay</c>: produces real data from <c>../shared/data</c> to Kafka with the original timing scaled by
/// <c>--speed</c>. Without <c>--bootstrap-servers</c> it starts an embedded Kafka and prints its address.
/// </summary>
public static class ReplayCommand
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var source = new Option<string>("--source")
        {
            Description = "Data set: " + string.Join(" | ", ReplaySourceNames.All),
            Required = true,
        };
        source.AcceptOnlyFromAmong(ReplaySourceNames.All);
        var speed = new Option<double>("--speed")
        {
            Description = "Time scale: 1 = original timing, 60 = a minute per second, 0 = as fast as possible.",
            DefaultValueFactory = _ => 1.0,
        };
        speed.Check(v => !(v >= 0) || double.IsInfinity(v) ? "--speed must be a number >= 0 (0 = as fast as possible)." : null);
        var noWait = new Option<bool>("--no-wait") { Description = "Ignore original timing (same as --speed 0)." };
        var bootstrap = new Option<string?>("--bootstrap-servers") { Description = "Kafka bootstrap servers; omitted = start an embedded Kafka." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Real-data folder (default ../shared/data, else shared/data found above the current directory)." };
        var limit = new Option<long>("--limit") { Description = "Produce at most this many events (0 = all)." };
        limit.Check(v => v < 0 ? "--limit must be >= 0." : null);
        var topic = new Option<string?>("--topic") { Description = "Target topic (default: ticks, vitals or audio-features by source)." };
        var audioStreams = new Option<string>("--audio-streams")
        {
            Description = "audio only: one stream per speaker or per recording.",
            DefaultValueFactory = _ => "per-speaker",
        };
        audioStreams.AcceptOnlyFromAmong("per-speaker", "per-recording");
        var partitions = new Option<int>("--partitions")
        {
            Description = "Partitions of the topic created on the embedded Kafka.",
            DefaultValueFactory = _ => 4,
        };
        var keepAlive = new Option<bool>("--keep-alive") { Description = "With the embedded Kafka: keep it running after the replay until Ctrl+C." };

        var command = new Command("replay", "Produce real data from ../shared/data to Kafka with original timing scaled.")
        {
            source, speed, noWait, bootstrap, dataDir, limit, topic, audioStreams, partitions, keepAlive,
        };
        command.SetAction(async (parse, ct) =>
        {
            try
            {
                return await RunAsync(
                    ReplaySourceNames.Parse(parse.GetValue(source)!),
                    parse.GetValue(noWait) ? 0 : parse.GetValue(speed),
                    parse.GetValue(bootstrap),
                    parse.GetValue(dataDir),
                    parse.GetValue(limit),
                    parse.GetValue(topic),
                    parse.GetValue(audioStreams) == "per-recording" ? AudioStreamMode.PerRecording : AudioStreamMode.PerSpeaker,
                    Math.Max(1, parse.GetValue(partitions)),
                    parse.GetValue(keepAlive),
                    ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
            {
                await Console.Error.WriteLineAsync("replay: " + ex.Message).ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }

    private static async Task<int> RunAsync(ReplaySource source, double speed, string? bootstrap, string? dataDir, long limit, string? topic, AudioStreamMode audio, int partitions, bool keepAlive, CancellationToken ct)
    {
        var dir = DataDirectory.Resolve(dataDir);
        topic ??= source.DefaultTopic();
        EmbeddedKafka? embedded = null;
        try
        {
            if (string.IsNullOrWhiteSpace(bootstrap))
            {
                embedded = EmbeddedKafka.Start();
                embedded.CreateTopic(topic, partitions);
                bootstrap = embedded.BootstrapServers;
                Console.WriteLine("no --bootstrap-servers given: started an embedded Kafka (librdkafka mock cluster)");
            }

            Console.WriteLine($"bootstrap.servers={bootstrap}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"replay: {source.ToName()} from {dir} -> topic '{topic}', speed {(speed == 0 ? "max" : speed.ToString(CultureInfo.InvariantCulture))}{(limit > 0 ? $", limit {limit}" : "")}"));
            var bad = new ReplayBadLines();
            var records = ReplaySources.Read(source, dir, new ReplayReadOptions { AudioStreams = audio, BadLines = bad });
            using var producer = new KafkaEventProducer(bootstrap);
            var lastPrint = TimeProvider.System.GetTimestamp();
            var report = await ReplayRunner.RunAsync(records, producer, topic, speed, limit, TimeProvider.System, n =>
            {
                if (TimeProvider.System.GetElapsedTime(lastPrint) > TimeSpan.FromSeconds(5))
                {
                    lastPrint = TimeProvider.System.GetTimestamp();
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"replay: {n} events produced"));
                }
            }, ct).ConfigureAwait(false);
            if (report.Produced == 0 && !ct.IsCancellationRequested)
            {
                // An empty source is a mistake to report, not a replay of nothing with a 1970 event-time range.
                if (bad.Count > 0) await Console.Error.WriteLineAsync("replay: " + bad.Summary()).ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"replay: no {source.ToName()} events were read from {dir}: its file has no data rows that can be read; nothing was produced.").ConfigureAwait(false);
                return 2;
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"replay: {report.Produced} events ({report.Keys} keys, event time {DateTimeOffset.FromUnixTimeMilliseconds(report.FirstTimestampMs):u} .. {DateTimeOffset.FromUnixTimeMilliseconds(report.LastTimestampMs):u}) in {report.Elapsed.TotalSeconds:F2} s; delivered {report.Delivered}, failed {report.Failed}"));
            if (bad.Count > 0) await Console.Error.WriteLineAsync("replay: " + bad.Summary()).ConfigureAwait(false);
            if (embedded is not null && keepAlive && !ct.IsCancellationRequested)
            {
                Console.WriteLine("replay done; embedded Kafka keeps running until Ctrl+C");
                await Task.Delay(Timeout.Infinite, ct).ContinueWith(static _ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }

            return report.Failed == 0 && report.Delivered == report.Produced ? 0 : 3;
        }
        finally
        {
            embedded?.Dispose();
        }
    }
}
