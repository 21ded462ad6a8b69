using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Storage;
using StreamLstm.Streaming.Storage.RocksDb;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// <c>streamlstm bench state</c>: durable state at scale, in-process (no Kafka), one worker, tick keys, H=64 L=1, a
/// RocksDB store in a temporary directory, checkpoints every interval the way the consumer's barrier takes them
/// (capture on the worker, write off it). Figures: bytes per resident key, events/s over many keys with a resident cap
/// (hibernation and restores), the throughput checkpoints cost, checkpoint bytes, restart to first forecast with every
/// key stored (lazy and eager), GC pause p99 and peak RSS.
/// </summary>
public static class StateBench
{
    /// <summary>Builds the command.</summary>
    /// <returns>The command.</returns>
    public static Command Create()
    {
        var command = new Command("state", "Durable state at scale: bytes per resident key, events/s with hibernation, checkpoint cost, restart time, GC pauses.");
        var keys = new Option<int>("--keys") { Description = "Keys stored", DefaultValueFactory = _ => 1_000_000 };
        var resident = new Option<int>("--resident") { Description = "Pipeline:MaxResidentKeys (keys held in memory)", DefaultValueFactory = _ => 100_000 };
        var events = new Option<int>("--events") { Description = "Events of the steady phase (0 = as many as keys)", DefaultValueFactory = _ => 0 };
        var interval = new Option<TimeSpan>("--interval") { Description = "Checkpoint interval", DefaultValueFactory = _ => TimeSpan.FromSeconds(1) };
        var dir = new Option<string?>("--dir") { Description = "State directory (default: a temporary one, removed afterwards)" };
        var output = new Option<string>("--out") { Description = "JSON output path", DefaultValueFactory = _ => "artifacts/bench/state.json" };
        command.Options.Add(keys);
        command.Options.Add(resident);
        command.Options.Add(events);
        command.Options.Add(interval);
        command.Options.Add(dir);
        command.Options.Add(output);
        command.SetAction(async (parse, ct) =>
        {
            var k = parse.GetValue(keys);
            var e = parse.GetValue(events) is > 0 and var n ? n : k;
            var temp = parse.GetValue(dir) is null;
            var path = parse.GetValue(dir) ?? Directory.CreateTempSubdirectory("streamlstm-bench-state-").FullName;
            try
            {
                var result = await RunAsync(k, parse.GetValue(resident), e, parse.GetValue(interval), path, ct).ConfigureAwait(false);
                var outPath = parse.GetValue(output)!;
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
                await File.WriteAllTextAsync(outPath, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
                Console.WriteLine($"wrote {outPath}");
            }
            finally
            {
                if (temp) Directory.Delete(path, true);
            }

            return 0;
        });
        return command;
    }

    private static async Task<JsonObject> RunAsync(int keys, int resident, int events, TimeSpan interval, string dir, CancellationToken ct)
    {
        var model = LstmModel.CreateRandom(new LstmConfig(3, 64, 1, 5), 7);
        model.Metadata = model.Metadata with { Version = "bench" };
        var models = new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = model };
        var names = Enumerable.Range(0, keys).Select(i => Encoding.UTF8.GetBytes("K" + i.ToString(CultureInfo.InvariantCulture))).ToArray();
        Console.WriteLine($"bench state: {keys:N0} keys, {resident:N0} resident, {events:N0} steady events, checkpoint every {interval.TotalSeconds:0.###} s, H=64 L=1, 1 worker, {dir}");

        // 1. Memory per resident key, no store: the slab, normaliser, key map, bookkeeping.
        var bytesPerKey = await MeasureBytesPerKey(models, names, resident, ct).ConfigureAwait(false);
        Console.WriteLine($"  bytes per resident key          {bytesPerKey,12:N0}");

        // 2. Checkpoint cost: the same traffic over resident keys, without a store and with checkpoints.
        var steadyResident = Uniform(events, resident, 11);
        var plain = await Run(models, names, null, 0, steadyResident, interval, warmKeys: resident, ct).ConfigureAwait(false);
        using (var store = new RocksDbStateStore(new RocksDbStateStoreOptions { Directory = Path.Combine(dir, "overhead") }))
        {
            var withState = await Run(models, names, store, 0, steadyResident, interval, warmKeys: resident, ct).ConfigureAwait(false);
            var overhead = 100.0 * (1 - withState.EventsPerSecond / plain.EventsPerSecond);
            Console.WriteLine($"  events/s, {resident:N0} keys, no store   {plain.EventsPerSecond,12:N0}");
            Console.WriteLine($"  events/s, {resident:N0} keys, checkpoints {withState.EventsPerSecond,12:N0}  ({overhead:0.0} % lost to checkpoints)");

            // 3. Scale: every key stored, a resident cap, uniform traffic over all keys (most events restore a hibernated key).
            using var big = new RocksDbStateStore(new RocksDbStateStoreOptions { Directory = Path.Combine(dir, "scale") });
            var scale = await Run(models, names, big, resident, Uniform(events, keys, 13), interval, warmKeys: keys, ct).ConfigureAwait(false);
            Console.WriteLine($"  events/s, {keys:N0} keys, cap {resident:N0}  {scale.EventsPerSecond,12:N0}  (restored {scale.Restored:N0}, hibernated {scale.Evicted:N0}, resident at most {scale.PeakResident:N0})");
            Console.WriteLine($"  checkpoint bytes per interval    {scale.CheckpointBytesPerInterval,12:N0}  ({scale.Checkpoints} checkpoints)");
            Console.WriteLine($"  GC pause p99                    {scale.GcPauseP99Ms,12:N2} ms  ({scale.GcPauses} pauses: {scale.GcKinds}; {System.Runtime.GCSettings.LatencyMode}, server {System.Runtime.GCSettings.IsServerGC})");

            // 4. Restart with every key stored: lazy (first event restores its key) and eager (the partition's keys first).
            var lazy = await Restart(models, names, big, resident, eager: false, ct).ConfigureAwait(false);
            var eager = await Restart(models, names, big, resident, eager: true, ct).ConfigureAwait(false);
            Console.WriteLine($"  restart to first forecast, lazy {lazy,12:N3} s");
            Console.WriteLine($"  restart to first forecast, eager{eager,12:N3} s  (loads {resident:N0} keys first)");
            var rss = Process.GetCurrentProcess().PeakWorkingSet64;
            Console.WriteLine($"  peak RSS                        {rss,12:N0}");
            return new JsonObject
            {
                ["keys"] = keys,
                ["resident"] = resident,
                ["events"] = events,
                ["hidden"] = 64,
                ["layers"] = 1,
                ["interval_s"] = interval.TotalSeconds,
                ["bytes_per_resident_key"] = Math.Round(bytesPerKey),
                ["events_per_s"] = Math.Round(scale.EventsPerSecond),
                ["events_per_s_resident_no_store"] = Math.Round(plain.EventsPerSecond),
                ["events_per_s_resident_checkpoints"] = Math.Round(withState.EventsPerSecond),
                ["checkpoint_overhead_pct"] = Math.Round(overhead, 2),
                ["checkpoint_bytes_per_interval"] = Math.Round(scale.CheckpointBytesPerInterval),
                ["restart_to_first_forecast_s"] = Math.Round(lazy, 4),
                ["restart_to_first_forecast_eager_s"] = Math.Round(eager, 4),
                ["restored"] = scale.Restored,
                ["hibernated"] = scale.Evicted,
                ["peak_resident"] = scale.PeakResident,
                ["gc_pause_p99_ms"] = Math.Round(scale.GcPauseP99Ms, 3),
                ["gc_pauses"] = scale.GcPauses,
                ["gc_pause_kinds"] = scale.GcKinds,
                ["peak_rss_bytes"] = rss,
                ["processors"] = Environment.ProcessorCount,
            };
        }
    }

    private static int[] Uniform(int events, int keys, int seed)
    {
        var rng = new Random(seed);
        var a = new int[events];
        for (var i = 0; i < a.Length; i++) a[i] = rng.Next(keys);
        return a;
    }

    private static async Task<double> MeasureBytesPerKey(Dictionary<SourceKind, LstmModel> models, byte[][] names, int resident, CancellationToken ct)
    {
        var before = GC.GetTotalMemory(true);
        var feeder = new Feeder(models, null, 0, eager: false);
        await feeder.SendAsync(Enumerable.Range(0, resident).ToArray(), names, ct).ConfigureAwait(false);
        await feeder.DrainAsync().ConfigureAwait(false);
        var after = GC.GetTotalMemory(true);
        var perKey = (after - before) / (double)resident;
        GC.KeepAlive(feeder);
        await feeder.DisposeAsync().ConfigureAwait(false);
        return perKey;
    }

    private static async Task<RunResult> Run(Dictionary<SourceKind, LstmModel> models, byte[][] names, IStateStore? store, int cap, int[] steady, TimeSpan interval,
        int warmKeys, CancellationToken ct)
    {
        var feeder = new Feeder(models, store, cap, eager: false);
        using var stop = new CancellationTokenSource();
        var checkpoints = store is null ? Task.CompletedTask : feeder.CheckpointLoopAsync(interval, stop.Token);
        // Every key once (creates its state; with a cap, hibernates most of them), then the measured steady phase.
        await feeder.SendAsync(Enumerable.Range(0, warmKeys).ToArray(), names, ct).ConfigureAwait(false);
        await feeder.DrainAsync().ConfigureAwait(false);
        // Every key durable before the steady phase: from here on idle keys can be hibernated.
        if (store is not null) await feeder.CheckpointAsync().ConfigureAwait(false);
        var pauses = new List<double>();
        var byKind = new int[4];
        var maxByKind = new double[4];
        var gcIndex = GC.GetGCMemoryInfo(GCKind.Any).Index;
        var bytesBefore = feeder.Checkpoints?.BytesWritten ?? 0;
        var countBefore = feeder.Checkpoints?.Writes ?? 0;
        var sw = Stopwatch.StartNew();
        await feeder.SendAsync(steady, names, ct, () =>
        {
            var info = GC.GetGCMemoryInfo(GCKind.Any);
            if (info.Index == gcIndex) return;
            gcIndex = info.Index;
            var ms = info.PauseDurations.ToArray().Sum(d => d.TotalMilliseconds);
            pauses.Add(ms);
            // Which collections pause: by generation, background (concurrent) ones apart.
            var kind = info.Concurrent ? 3 : Math.Min(info.Generation, 2);
            byKind[kind]++;
            maxByKind[kind] = Math.Max(maxByKind[kind], ms);
        }).ConfigureAwait(false);
        await feeder.DrainAsync().ConfigureAwait(false);
        var seconds = sw.Elapsed.TotalSeconds;
        await stop.CancelAsync().ConfigureAwait(false);
        await checkpoints.ConfigureAwait(false);
        var writes = (feeder.Checkpoints?.Writes ?? 0) - countBefore;
        var bytes = (feeder.Checkpoints?.BytesWritten ?? 0) - bytesBefore;
        if (store is not null) await feeder.CheckpointAsync().ConfigureAwait(false);
        pauses.Sort();
        var totals = feeder.Pipeline.Totals();
        var result = new RunResult(steady.Length / seconds, writes == 0 ? 0 : bytes / (double)writes, writes,
            pauses.Count == 0 ? 0 : pauses[Math.Min(pauses.Count - 1, (int)Math.Ceiling(pauses.Count * 0.99) - 1)], pauses.Count,
            totals.Restored, totals.Evicted, feeder.PeakResident,
            string.Join(", ", Enumerable.Range(0, 4).Where(k => byKind[k] > 0).Select(k => $"{(k == 3 ? "background" : "gen" + k)} {byKind[k]} (max {maxByKind[k]:0.0} ms)")));
        await feeder.DisposeAsync().ConfigureAwait(false);
        return result;
    }

    private static async Task<double> Restart(Dictionary<SourceKind, LstmModel> models, byte[][] names, IStateStore store, int cap, bool eager, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var feeder = new Feeder(models, store, cap, eager);
        await feeder.SendAsync([names.Length / 2], names, ct).ConfigureAwait(false);
        await feeder.FirstForecast.WaitAsync(TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);
        var s = sw.Elapsed.TotalSeconds;
        await feeder.DisposeAsync().ConfigureAwait(false);
        return s;
    }

    private sealed record RunResult(double EventsPerSecond, double CheckpointBytesPerInterval, long Checkpoints, double GcPauseP99Ms, int GcPauses, long Restored, long Evicted, long PeakResident, string GcKinds = "");

    /// <summary>One pipeline with a single tick partition, fed at explicit offsets, checkpointed like the consumer's barrier does.</summary>
    private sealed class Feeder : IAsyncDisposable
    {
        private readonly FirstRowOutput _output = new();
        private readonly PartitionState _partition;
        private long _offset;
        private long _sequence;
        private long _ts = 1_700_000_000_000;

        public Feeder(Dictionary<SourceKind, LstmModel> models, IStateStore? store, int cap, bool eager)
        {
            Checkpoints = store is null ? null : new StoreCheckpoints(store);
            var options = new PipelineOptions { Workers = 1, MaxResidentKeys = cap, InitialSlots = 1024, ChunkSize = 1024, ChannelCapacity = 16 };
            Pipeline = new StreamPipeline(options, models, [_output], new CountingDeadLetterSink(), state: store is null ? null : new DurableState(store, eager));
            Pipeline.Start();
            _partition = new PartitionState("ticks", 0, SourceKind.Tick, 0);
            var stored = store?.ReadOffset(SourceKind.Tick, 0) ?? -1;
            if (stored >= 0)
            {
                _partition.StateOffset = stored;
                _partition.ReadOffset = stored;
                _offset = stored;
                _ts += stored;
            }

            Pipeline.Lanes[0].Writer.TryWrite(Pipeline.Pool.RentControl(ChunkKind.Assigned, [_partition]));
        }

        public StreamPipeline Pipeline { get; }

        public StoreCheckpoints? Checkpoints { get; }

        public Task FirstForecast => _output.First.Task;

        public long PeakResident { get; private set; }

        public async Task SendAsync(int[] keyIndices, byte[][] names, CancellationToken ct, Action? perChunk = null)
        {
            var chunk = Pipeline.Pool.Rent();
            foreach (var k in keyIndices)
            {
                var ts = _ts++;
                var value = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"symbol\":\"K{k}\",\"ts\":{ts},\"price\":{100 + (ts % 97) * 0.01:0.00},\"size\":{1 + ts % 50}}}"));
                chunk.Add(_partition, names[k], value, _offset++, Stopwatch.GetTimestamp());
                if (!chunk.IsFull) continue;
                await Pipeline.Lanes[0].Writer.WriteAsync(chunk, ct).ConfigureAwait(false);
                chunk = Pipeline.Pool.Rent();
                perChunk?.Invoke();
                PeakResident = Math.Max(PeakResident, Volatile.Read(ref Pipeline.Workers[0].Metrics.Keys));
            }

            if (chunk.Count > 0) await Pipeline.Lanes[0].Writer.WriteAsync(chunk, ct).ConfigureAwait(false);
            else chunk.Release();
        }

        public async Task DrainAsync()
        {
            var control = Pipeline.Pool.RentControl(ChunkKind.Drain, []);
            var done = control.Done!.Task;
            await Pipeline.Lanes[0].Writer.WriteAsync(control).ConfigureAwait(false);
            await done.ConfigureAwait(false);
        }

        public async Task CheckpointLoopAsync(TimeSpan interval, CancellationToken stop)
        {
            using var timer = new PeriodicTimer(interval);
            try
            {
                while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false)) await CheckpointAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        /// <summary>As the barrier: capture through the mailbox (ahead of the backlog), write, publish.</summary>
        public async Task CheckpointAsync()
        {
            var capture = new CheckpointCapture(++_sequence, 1);
            var control = Pipeline.Pool.RentControl(ChunkKind.Checkpoint, [_partition], capture);
            var done = control.Done!.Task;
            Pipeline.Mailboxes[0].Post(control);
            var wake = Pipeline.Pool.RentControl(ChunkKind.Checkpoint, []);
            if (!Pipeline.Lanes[0].Writer.TryWrite(wake)) wake.Release();
            await done.ConfigureAwait(false);
            Checkpoints!.Write(capture);
            foreach (var p in capture.Partitions.Where(p => p.Written))
            {
                p.Partition.StateOffset = p.Offset;
                p.Partition.StateSequence = capture.Sequence;
            }

            capture.Release();
        }

        public async ValueTask DisposeAsync() => await Pipeline.CompleteAsync().ConfigureAwait(false);
    }

    private sealed class FirstRowOutput : IForecastOutput
    {
        public TaskCompletionSource First { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            if (batch.Count > 0) First.TrySetResult();
            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
