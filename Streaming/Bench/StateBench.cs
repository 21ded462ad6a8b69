using System.CommandLine;
using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Runtime;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Cli;
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
        keys.Check(v => v < 1 ? "--keys must be 1 or more." : null);
        var resident = new Option<int>("--resident") { Description = "Pipeline:MaxResidentKeys (keys held in memory)", DefaultValueFactory = _ => 100_000 };
        resident.Check(v => v < 1 ? "--resident must be 1 or more." : null);
        var events = new Option<int>("--events") { Description = "Events of the steady phase (0 = as many as keys)", DefaultValueFactory = _ => 0 };
        events.Check(v => v < 0 ? "--events must be 0 or more." : null);
        var interval = new Option<TimeSpan>("--interval") { Description = "Checkpoint interval", DefaultValueFactory = _ => TimeSpan.FromSeconds(1) };
        var dir = new Option<string?>("--dir") { Description = "State directory (default: a temporary one, removed afterwards)" };
        var output = new Option<string>("--out") { Description = "JSON output path", DefaultValueFactory = _ => "artifacts/bench/state.json" };
        var rounds = new Option<int>("--rounds") { Description = "Rounds of the checkpoint-cost comparison (no store vs checkpoints, alternating; the median is reported)", DefaultValueFactory = _ => 3 };
        rounds.Check(v => v < 1 ? "--rounds must be 1 or more." : null);
        var latency = new Option<GCLatencyMode?>("--latency-mode") { Description = "GCSettings.LatencyMode during the measured phases (default: the runtime's)" };
        command.Options.Add(keys);
        command.Options.Add(rounds);
        command.Options.Add(latency);
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
                if (parse.GetValue(latency) is { } mode) GCSettings.LatencyMode = mode;
                var result = await RunAsync(k, parse.GetValue(resident), e, parse.GetValue(interval), Math.Max(1, parse.GetValue(rounds)), path, ct).ConfigureAwait(false);
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

    private static async Task<JsonObject> RunAsync(int keys, int resident, int events, TimeSpan interval, int rounds, string dir, CancellationToken ct)
    {
        var model = LstmModel.CreateRandom(new LstmConfig(3, 64, 1, 5), 7);
        model.Metadata = model.Metadata with { Version = "bench" };
        var models = new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = model };
        var names = Enumerable.Range(0, keys).Select(i => Encoding.UTF8.GetBytes("K" + i.ToString(CultureInfo.InvariantCulture))).ToArray();
        Console.WriteLine($"bench state: {keys:N0} keys, {resident:N0} resident, {events:N0} steady events, checkpoint every {interval.TotalSeconds:0.###} s, H=64 L=1, 1 worker, {dir}");

        // 1. Memory per resident key, no store: the slab, normaliser, key map, bookkeeping.
        var bytesPerKey = await MeasureBytesPerKey(models, names, resident, ct).ConfigureAwait(false);
        Console.WriteLine($"  bytes per resident key          {bytesPerKey,12:N0}");

        // 2. Checkpoint cost: the same traffic over resident keys, without a store and with checkpoints. One unmeasured
        // round first (tiered JIT would otherwise charge its warm-up to whichever runs first), then rounds alternating
        // which goes first (drift on a shared box hits both); the median of the rounds' overheads is the figure.
        var steadyResident = Uniform(events, resident, 11);
        await Run(models, names, null, 0, steadyResident, interval, warmKeys: resident, ct).ConfigureAwait(false);
        var plainRates = new List<double>();
        var stateRates = new List<double>();
        var overheads = new List<double>();
        var allocPlain = new List<double>();
        var allocState = new List<double>();
        var captureMs = new List<double>();
        var writeMs = new List<double>();
        for (var r = 0; r < rounds; r++)
        {
            double p = 0, w = 0;
            foreach (var withStore in r % 2 == 0 ? [false, true] : new[] { true, false })
            {
                if (!withStore)
                {
                    var plain = await Run(models, names, null, 0, steadyResident, interval, warmKeys: resident, ct).ConfigureAwait(false);
                    p = plain.EventsPerSecond;
                    allocPlain.Add(plain.AllocatedBytesPerEvent);
                    continue;
                }

                var roundDir = Path.Combine(dir, "overhead" + r.ToString(CultureInfo.InvariantCulture));
                using (var store = new RocksDbStateStore(new RocksDbStateStoreOptions { Directory = roundDir }))
                {
                    var withState = await Run(models, names, store, 0, steadyResident, interval, warmKeys: resident, ct).ConfigureAwait(false);
                    w = withState.EventsPerSecond;
                    allocState.Add(withState.AllocatedBytesPerEvent);
                    captureMs.Add(withState.CaptureMs);
                    writeMs.Add(withState.WriteMs);
                }

                Directory.Delete(roundDir, true);
            }

            plainRates.Add(p);
            stateRates.Add(w);
            overheads.Add(100.0 * (1 - w / p));
            Console.WriteLine($"  round {r + 1}: events/s no store {p,10:N0}, checkpoints {w,10:N0}  ({overheads[^1]:0.0} % lost)");
        }

        var overhead = Median(overheads);
        Console.WriteLine($"  events/s, {resident:N0} keys, no store   {Median(plainRates),12:N0}  (median of {rounds}; {Spread(plainRates)})");
        Console.WriteLine($"  events/s, {resident:N0} keys, checkpoints {Median(stateRates),12:N0}  (median of {rounds}; {Spread(stateRates)})");
        Console.WriteLine($"  checkpoint overhead             {overhead,12:0.0} %  (median; rounds {string.Join(", ", overheads.Select(o => o.ToString("0.0", CultureInfo.InvariantCulture)))})");
        Console.WriteLine($"  per checkpoint                  {Median(captureMs),12:N1} ms capture (worker), {Median(writeMs):N1} ms store write (median)");
        Console.WriteLine($"  allocated per event             {Median(allocPlain),12:N1} B no store, {Median(allocState):N1} B with checkpoints (all threads)");
        {
            // 3. Scale: every key stored, a resident cap, uniform traffic over all keys (most events restore a hibernated key).
            using var big = new RocksDbStateStore(new RocksDbStateStoreOptions { Directory = Path.Combine(dir, "scale") });
            var scale = await Run(models, names, big, resident, Uniform(events, keys, 13), interval, warmKeys: keys, ct).ConfigureAwait(false);
            Console.WriteLine($"  events/s, {keys:N0} keys, cap {resident:N0}  {scale.EventsPerSecond,12:N0}  (restored {scale.Restored:N0}, hibernated {scale.Evicted:N0}, resident at most {scale.PeakResident:N0})");
            Console.WriteLine($"  checkpoint bytes per interval    {scale.CheckpointBytesPerInterval,12:N0}  ({scale.Checkpoints} checkpoints; {scale.CaptureMs:N1} ms capture, {scale.WriteMs:N1} ms write each)");
            Console.WriteLine($"  allocated per event             {scale.AllocatedBytesPerEvent,12:N1} B (all threads)");
            Console.WriteLine($"  GC pause p99                    {scale.GcPauseP99Ms,12:N2} ms  ({scale.GcPauses} pauses, max {scale.GcPauseMaxMs:0.0} ms: {scale.GcKinds}; latency mode {GCSettings.LatencyMode} (Batch: concurrent GC off), server {GCSettings.IsServerGC})");

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
                ["events_per_s_resident_no_store"] = Math.Round(Median(plainRates)),
                ["events_per_s_resident_checkpoints"] = Math.Round(Median(stateRates)),
                ["checkpoint_overhead_pct"] = Math.Round(overhead, 2),
                ["checkpoint_overhead_rounds_pct"] = new JsonArray([.. overheads.Select(o => (JsonNode)Math.Round(o, 2))]),
                ["alloc_bytes_per_event_resident_no_store"] = Math.Round(Median(allocPlain), 1),
                ["alloc_bytes_per_event_resident_checkpoints"] = Math.Round(Median(allocState), 1),
                ["checkpoint_capture_ms"] = Math.Round(Median(captureMs), 2),
                ["checkpoint_write_ms"] = Math.Round(Median(writeMs), 2),
                ["alloc_bytes_per_event"] = Math.Round(scale.AllocatedBytesPerEvent, 1),
                ["checkpoint_bytes_per_interval"] = Math.Round(scale.CheckpointBytesPerInterval),
                ["restart_to_first_forecast_s"] = Math.Round(lazy, 4),
                ["restart_to_first_forecast_eager_s"] = Math.Round(eager, 4),
                ["restored"] = scale.Restored,
                ["hibernated"] = scale.Evicted,
                ["peak_resident"] = scale.PeakResident,
                ["gc_pause_p99_ms"] = Math.Round(scale.GcPauseP99Ms, 3),
                ["gc_pause_max_ms"] = Math.Round(scale.GcPauseMaxMs, 3),
                ["gc_pauses"] = scale.GcPauses,
                ["gc_latency_mode"] = GCSettings.LatencyMode.ToString(),
                ["gc_server"] = GCSettings.IsServerGC,
                ["gc_pause_kinds"] = scale.GcKinds,
                ["peak_rss_bytes"] = rss,
                ["processors"] = Environment.ProcessorCount,
            };
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string Spread(List<double> values) => string.Create(CultureInfo.InvariantCulture, $"min {values.Min():N0}, max {values.Max():N0}");

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
        var warm = Enumerable.Range(0, resident).ToArray();
        await feeder.SendAsync(warm, feeder.Prepare(warm), names, ct).ConfigureAwait(false);
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
        var warm = Enumerable.Range(0, warmKeys).ToArray();
        await feeder.SendAsync(warm, feeder.Prepare(warm), names, ct).ConfigureAwait(false);
        await feeder.DrainAsync().ConfigureAwait(false);
        // Every key durable before the steady phase: from here on idle keys can be hibernated.
        if (store is not null) await feeder.CheckpointAsync().ConfigureAwait(false);
        // The events' bytes are built before timing: they stand for what the Kafka client hands over, so the
        // allocations and pauses measured are the pipeline's (and the checkpoints'), not the bench's JSON formatting.
        var values = feeder.Prepare(steady);
        // They live through the phase: promote them to gen2 first (a full collection moves gen0 survivors only to gen1,
        // hence two), or the phase's first young collections would copy tens of MB of the bench's own data.
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var bytesBefore = feeder.Checkpoints?.BytesWritten ?? 0;
        var (captureBefore, writeBefore) = (feeder.CaptureSeconds, feeder.WriteSeconds);
        var countBefore = feeder.Checkpoints?.Writes ?? 0;
        using var pauses = new GcPauseListener();
        var allocated = GC.GetTotalAllocatedBytes(true);
        var sw = Stopwatch.StartNew();
        await feeder.SendAsync(steady, values, names, ct).ConfigureAwait(false);
        await feeder.DrainAsync().ConfigureAwait(false);
        var seconds = sw.Elapsed.TotalSeconds;
        allocated = GC.GetTotalAllocatedBytes(true) - allocated;
        await pauses.StopAsync().ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await checkpoints.ConfigureAwait(false);
        var writes = (feeder.Checkpoints?.Writes ?? 0) - countBefore;
        var (captureMs, writeMs) = writes == 0 ? (0.0, 0.0) : (1000 * (feeder.CaptureSeconds - captureBefore) / writes, 1000 * (feeder.WriteSeconds - writeBefore) / writes);
        var bytes = (feeder.Checkpoints?.BytesWritten ?? 0) - bytesBefore;
        if (store is not null) await feeder.CheckpointAsync().ConfigureAwait(false);
        GC.KeepAlive(values);
        var totals = feeder.Pipeline.Totals();
        var (p99, max, count, kinds) = pauses.Summary();
        kinds = string.Create(CultureInfo.InvariantCulture, $"{pauses.Collections} collections; {kinds}");
        var result = new RunResult(steady.Length / seconds, writes == 0 ? 0 : bytes / (double)writes, writes, p99, count,
            totals.Restored, totals.Evicted, feeder.PeakResident, kinds, max, allocated / (double)steady.Length, captureMs, writeMs);
        await feeder.DisposeAsync().ConfigureAwait(false);
        return result;
    }

    private static async Task<double> Restart(Dictionary<SourceKind, LstmModel> models, byte[][] names, IStateStore store, int cap, bool eager, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var feeder = new Feeder(models, store, cap, eager);
        int[] first = [names.Length / 2];
        await feeder.SendAsync(first, feeder.Prepare(first), names, ct).ConfigureAwait(false);
        await feeder.FirstForecast.WaitAsync(TimeSpan.FromMinutes(5), ct).ConfigureAwait(false);
        var s = sw.Elapsed.TotalSeconds;
        await feeder.DisposeAsync().ConfigureAwait(false);
        return s;
    }

    private sealed record RunResult(double EventsPerSecond, double CheckpointBytesPerInterval, long Checkpoints, double GcPauseP99Ms, int GcPauses, long Restored, long Evicted, long PeakResident, string GcKinds,
        double GcPauseMaxMs, double AllocatedBytesPerEvent, double CaptureMs, double WriteMs);

    /// <summary>
    /// Every pause of the runtime while it listens (suspension begin to restart end, from the runtime's own GC events),
    /// so several collections between two polls are all counted.
    /// </summary>
    private sealed class GcPauseListener : EventListener
    {
        private readonly Lock _lock = new();
        private readonly List<double> _pauses = [];
        private readonly int[] _byKind = new int[4];
        private readonly double[] _maxByKind = new double[4];
        private readonly int _gcBefore = GC.CollectionCount(0);
        private DateTime _suspended;
        private int _kind;
        private int _ends;

        /// <summary>Collections while it listened (a cross-check of the pauses counted).</summary>
        public int Collections { get; private set; }

        public (double P99, double Max, int Count, string Kinds) Summary()
        {
            lock (_lock)
            {
                var sorted = _pauses.Order().ToArray();
                var p99 = sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(sorted.Length * 0.99) - 1)];
                var kinds = string.Join(", ", Enumerable.Range(0, 4).Where(k => _byKind[k] > 0).Select(k => $"{(k == 3 ? "background" : "gen" + k)} {_byKind[k]} (max {_maxByKind[k]:0.0} ms)"));
                return (p99, sorted.Length == 0 ? 0 : sorted[^1], sorted.Length, kinds);
            }
        }

        /// <summary>Waits until the events of every collection so far have arrived (they are dispatched late), then stops.</summary>
        public async Task StopAsync()
        {
            var target = Collections = GC.CollectionCount(0) - _gcBefore;
            var deadline = Stopwatch.StartNew();
            while (Volatile.Read(ref _ends) < target && deadline.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(20).ConfigureAwait(false);
            Dispose();
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            // GC keyword (0x1) of the runtime's provider, informational: GCStart, GCEnd, suspension and restart.
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(eventSource, EventLevel.Informational, (EventKeywords)1);
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            lock (_lock)
            {
                switch (eventData.EventName)
                {
                    case { } n when n.StartsWith("GCSuspendEEBegin", StringComparison.Ordinal):
                        _suspended = eventData.TimeStamp;
                        _kind = -1;
                        break;
                    case { } n when n.StartsWith("GCStart", StringComparison.Ordinal):
                        var depth = Convert.ToInt32(eventData.Payload![eventData.PayloadNames!.IndexOf("Depth")], CultureInfo.InvariantCulture);
                        var type = Convert.ToInt32(eventData.Payload![eventData.PayloadNames!.IndexOf("Type")], CultureInfo.InvariantCulture);
                        if (_kind < 0) _kind = type == 1 ? 3 : Math.Min(depth, 2);
                        break;
                    case { } n when n.StartsWith("GCEnd", StringComparison.Ordinal):
                        _ends++;
                        break;
                    case { } n when n.StartsWith("GCRestartEEEnd", StringComparison.Ordinal) && _suspended != default:
                        var ms = (eventData.TimeStamp - _suspended).TotalMilliseconds;
                        _suspended = default;
                        // A suspension without a collection (a thread abort, a debugger) is not a GC pause.
                        if (_kind < 0) break;
                        _pauses.Add(ms);
                        _byKind[_kind]++;
                        _maxByKind[_kind] = Math.Max(_maxByKind[_kind], ms);
                        break;
                }
            }
        }
    }

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

        /// <summary>Seconds from asking the worker for a capture to having it (mailbox wait and the capture itself).</summary>
        public double CaptureSeconds { get; private set; }

        /// <summary>Seconds spent writing captures to the store (off the worker).</summary>
        public double WriteSeconds { get; private set; }

        /// <summary>The events' bytes for <paramref name="keyIndices"/>, at the timestamps they will be sent with.</summary>
        public byte[][] Prepare(int[] keyIndices)
        {
            var values = new byte[keyIndices.Length][];
            var ts = _ts;
            for (var i = 0; i < keyIndices.Length; i++, ts++)
            {
                values[i] = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"symbol\":\"K{keyIndices[i]}\",\"ts\":{ts},\"price\":{100 + (ts % 97) * 0.01:0.00},\"size\":{1 + ts % 50}}}"));
            }

            return values;
        }

        public async Task SendAsync(int[] keyIndices, byte[][] values, byte[][] names, CancellationToken ct)
        {
            var chunk = Pipeline.Pool.Rent();
            for (var i = 0; i < keyIndices.Length; i++)
            {
                _ts++;
                chunk.Add(_partition, names[keyIndices[i]], values[i], _offset++, Stopwatch.GetTimestamp());
                if (!chunk.IsFull) continue;
                await Pipeline.Lanes[0].Writer.WriteAsync(chunk, ct).ConfigureAwait(false);
                chunk = Pipeline.Pool.Rent();
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
            var start = Stopwatch.GetTimestamp();
            Pipeline.Mailboxes[0].Post(control);
            var wake = Pipeline.Pool.RentControl(ChunkKind.Checkpoint, []);
            if (!Pipeline.Lanes[0].Writer.TryWrite(wake)) wake.Release();
            await done.ConfigureAwait(false);
            var captured = Stopwatch.GetTimestamp();
            CaptureSeconds += Stopwatch.GetElapsedTime(start, captured).TotalSeconds;
            Checkpoints!.Write(capture);
            WriteSeconds += Stopwatch.GetElapsedTime(captured).TotalSeconds;
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
