using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Bench;

// The core run: pre-encoded ticks through the in-process source, phase costs per event, 1 and 2 workers.
public static partial class PipelineBench
{
    private static async Task<(JsonObject Phases, JsonArray Core, JsonArray Paced)> CoreAsync(Dictionary<SourceKind, LstmModel> models, int events, int keys, int hidden, int[] workerCounts, int warmupEvents, CancellationToken ct)
    {
        var model = models[SourceKind.Tick];
        Console.WriteLine($"generating {events:N0} tick events for {keys:N0} symbols...");
        var messages = Generate(events, keys, out var keyBytes, out var keyIndex);

        Phases(model, messages, keyBytes.Length); // warm-up: tiered JIT
        var phases = Phases(model, messages, keyBytes.Length);
        Console.WriteLine("single-thread phase costs (ns/event): " + string.Join(", ", phases.Select(p => $"{p.Key} {p.Value!.GetValue<double>():N0}")));
        var core = new JsonArray();
        Console.WriteLine();
        Console.WriteLine("core (in-process source, no Kafka), H={0}, {1:N0} keys", hidden, keys);
        Console.WriteLine("{0,8} {1,14} {2,10} {3,10} {4,10} {5,12}", "workers", "events/s", "p50 µs", "p99 µs", "batch", "cpu ns/ev");
        // A service runs for hours, so its figure is the steady state: one unmeasured pass per worker count first lets the
        // JIT tier the hot code up (its thread cost ~0.1-0.25 µs/event and the code ran at tier 0 early in a cold 1 M run).
        // Each measured run still has a fresh pipeline, so every key's first touch stays in it.
        var cold = new Dictionary<int, RunResult>();
        if (warmupEvents > 0)
        {
            foreach (var w in workerCounts.Distinct())
            {
                cold[w] = await CoreRunAsync(models, messages, keyBytes, keyIndex, w, ct, limit: warmupEvents).ConfigureAwait(false);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"warm-up (not measured), {w} worker(s), {cold[w].ProfiledEvents:N0} events: cold {cold[w].Rate:N0} events/s, {cold[w].CpuNsPerEvent:N0} CPU ns/event"));
            }
        }

        foreach (var w in workerCounts)
        {
            var r = await CoreRunAsync(models, messages, keyBytes, keyIndex, w, ct).ConfigureAwait(false);
            Console.WriteLine("{0,8} {1,14:N0} {2,10:N0} {3,10:N0} {4,10:N1} {5,12:N0}", w, r.Rate, r.P50, r.P99, r.MeanBatch, r.CpuNsPerEvent);
            // Where the CPU went: per thread group (the source is the bench's own thread), and the workers' step (wall).
            if (r.Profile is { } cpu) Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"         µs/event by thread: {cpu.Format(r.ProfiledEvents)}; step+denormalise+score {r.StepUs:N3} µs/event (wall)"));
            var row = new JsonObject
            {
                ["workers"] = w, ["keys"] = keys, ["hidden"] = hidden, ["layers"] = 1, ["events"] = events,
                ["seconds"] = Math.Round(r.Seconds, 3), ["events_per_s"] = Math.Round(r.Rate), ["p50_us"] = r.P50, ["p99_us"] = r.P99,
                ["mean_batch"] = Math.Round(r.MeanBatch, 1), ["cpu_ns_per_event"] = Math.Round(r.CpuNsPerEvent),
                ["step_us_per_event"] = Math.Round(r.StepUs, 4), ["warmup_events"] = cold.TryGetValue(w, out var c) ? c.ProfiledEvents : 0,
            };
            if (c is not null)
            {
                row["cold_events_per_s"] = Math.Round(c.Rate);
                row["cold_cpu_ns_per_event"] = Math.Round(c.CpuNsPerEvent);
            }

            if (r.Profile is { } p) row["profile"] = p.ToJson(r.ProfiledEvents);
            core.Add(row);
        }

        // Latency at saturation is queueing; measure it again with the source paced at half the best rate.
        var best = core.Max(c => c!["events_per_s"]!.GetValue<double>());
        var bestWorkers = core.First(c => c!["events_per_s"]!.GetValue<double>() == best)!["workers"]!.GetValue<int>();
        var paced = new JsonArray();
        Console.WriteLine();
        Console.WriteLine("core, source paced (latency below saturation)");
        Console.WriteLine("{0,8} {1,14} {2,10} {3,10} {4,10}", "workers", "events/s", "p50 µs", "p99 µs", "batch");
        foreach (var fraction in new[] { 0.25, 0.5 })
        {
            var rate = best * fraction;
            var r = await CoreRunAsync(models, messages, keyBytes, keyIndex, bestWorkers, ct, rate).ConfigureAwait(false);
            Console.WriteLine("{0,8} {1,14:N0} {2,10:N0} {3,10:N0} {4,10:N1}", bestWorkers, r.Rate, r.P50, r.P99, r.MeanBatch);
            paced.Add(new JsonObject
            {
                ["workers"] = bestWorkers, ["target_events_per_s"] = Math.Round(rate), ["events_per_s"] = Math.Round(r.Rate),
                ["p50_us"] = r.P50, ["p99_us"] = r.P99, ["mean_batch"] = Math.Round(r.MeanBatch, 1), ["max_wait_ms"] = 1,
            });
        }

        return (phases, core, paced);
    }

    /// <summary>Single-thread cost of each stage of the hot path, measured apart.</summary>
    private static JsonObject Phases(LstmModel model, byte[][] messages, int keys)
    {
        var n = Math.Min(messages.Length, 200_000);
        var decoder = Ingest.Decoding.EventDecoder.For(SourceKind.Tick);
        var raw = new double[decoder.ValueCount];
        var ts = new long[n];
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++) decoder.Decode(messages[i], raw, out ts[i], out _);
        var decodeNs = sw.Elapsed.TotalNanoseconds / n;
        decoder.FastPath = false;
        sw.Restart();
        for (var i = 0; i < n; i++) decoder.Decode(messages[i], raw, out ts[i], out _);
        var generalNs = sw.Elapsed.TotalNanoseconds / n;

        var features = Ingest.Features.FeatureExtractor.For(SourceKind.Tick);
        features.EnsureCapacity(keys);
        var x = new float[3];
        var rng = new Random(1);
        raw[0] = 100;
        raw[1] = 10;
        sw.Restart();
        for (var i = 0; i < n; i++)
        {
            raw[0] *= 1 + 1e-4 * (i % 3 - 1);
            features.Extract(i % keys, raw, i, x);
        }

        var featureNs = sw.Elapsed.TotalNanoseconds / n;
        var mu = new float[5];
        var sigma = new float[5];
        sw.Restart();
        for (var i = 0; i < n; i++) features.Denormalise(i % keys, mu, mu, mu, sigma);
        var denormNs = sw.Elapsed.TotalNanoseconds / n;

        const int b = 512;
        var slab = new Model.State.StateSlab(model.Config, keys);
        var slots = new int[b];
        for (var i = 0; i < keys; i++) slab.Allocate();
        var stepper = new Model.Inference.LstmStepper(model, b);
        var xb = new float[b * 3];
        var mub = new float[b * 5];
        var lsb = new float[b * 5];
        var rounds = Math.Max(1, n / b);
        sw.Restart();
        for (var r = 0; r < rounds; r++)
        {
            for (var j = 0; j < b; j++) slots[j] = (r * b + j * 97) % keys;
            stepper.Step(slab, slots, xb, mub, lsb);
        }

        var stepNs = sw.Elapsed.TotalNanoseconds / (rounds * b);

        // The workers' lookup: the key's UTF-8 bytes straight into the slot table.
        var table = new KeySlotTable();
        table.EnsureCapacity(keys);
        var owner = new PartitionState("ticks", 0, SourceKind.Tick, 0);
        var names = new byte[keys][];
        for (var k = 0; k < keys; k++)
        {
            names[k] = System.Text.Encoding.UTF8.GetBytes("k" + k.ToString(CultureInfo.InvariantCulture));
            table.Add(owner, names[k], k);
        }

        // Against the previous lookup (UTF-16 transcoding into a string-keyed dictionary), same keys in the same order,
        // alternating rounds (best of three each), so a shared machine's noise hits both alike.
        var dict = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var k = 0; k < keys; k++) dict[System.Text.Encoding.UTF8.GetString(names[k])] = k;
        var alternate = dict.GetAlternateLookup<ReadOnlySpan<char>>();
        double lookupNs = double.MaxValue, dictNs = double.MaxValue;
        var found = 0;
        Span<char> chars = stackalloc char[64];
        for (var round = 0; round < 3; round++)
        {
            sw.Restart();
            for (var i = 0; i < n; i++)
            {
                if (table.Find(owner, names[(int)((uint)(i * 7919) % (uint)keys)]) >= 0) found++;
            }

            lookupNs = Math.Min(lookupNs, sw.Elapsed.TotalNanoseconds / n);
            sw.Restart();
            for (var i = 0; i < n; i++)
            {
                var w = System.Text.Encoding.UTF8.GetChars(names[(int)((uint)(i * 7919) % (uint)keys)], chars);
                if (alternate.TryGetValue(chars[..w], out _)) found++;
            }

            dictNs = Math.Min(dictNs, sw.Elapsed.TotalNanoseconds / n);
        }

        if (found != 6 * n) throw new InvalidOperationException("key lookup bench: keys not found");
        return new JsonObject
        {
            ["decode_json"] = Math.Round(decodeNs, 1),
            ["decode_json_general"] = Math.Round(generalNs, 1),
            ["key_lookup"] = Math.Round(lookupNs, 1),
            ["key_lookup_utf16_dict"] = Math.Round(dictNs, 1),
            ["features"] = Math.Round(featureNs, 1),
            ["lstm_step_b512"] = Math.Round(stepNs, 1),
            ["denormalise"] = Math.Round(denormNs, 1),
        };
    }

    private static byte[][] Generate(int events, int keys, out byte[][] keyBytes, out int[] keyIndex)
    {
        var gen = new TickGenerator(new TickGeneratorOptions { Keys = keys, Seed = 3, EventsPerKeyPerSecond = 1 });
        keyBytes = Enumerable.Range(0, keys).Select(k => gen.GetKeyUtf8(k).ToArray()).ToArray();
        var messages = new byte[events][];
        keyIndex = new int[events];
        var buffer = new byte[EventJson.MaxEventBytes];
        for (var i = 0; i < events; i++)
        {
            var info = gen.Next(buffer, out var n);
            messages[i] = buffer.AsSpan(0, n).ToArray();
            keyIndex[i] = info.KeyIndex;
        }

        return messages;
    }

    private static async Task<RunResult> CoreRunAsync(Dictionary<SourceKind, LstmModel> models, byte[][] messages, byte[][] keyBytes, int[] keyIndex, int workers, CancellationToken ct, double pacedRate = 0, int limit = 0)
    {
        const int partitions = 16;
        var options = new PipelineOptions
        {
            Workers = workers, MaxBatch = 512, ChunkSize = 1024, ChannelCapacity = 16, InitialSlots = keyBytes.Length / workers + 1024,
            MaxWait = pacedRate > 0 ? TimeSpan.FromMilliseconds(1) : TimeSpan.Zero,
        };
        var count = pacedRate > 0 ? (int)Math.Min(messages.Length, pacedRate * 10) : limit > 0 ? Math.Min(limit, messages.Length) : messages.Length;
        var output = new CountingOutput();
        var pipeline = new StreamPipeline(options, models, [output], new CountingDeadLetterSink());
        var source = new InProcessSource(pipeline);
        // Warm-up pass on a few keys is skipped on purpose: the first touch of each of the 100K keys is part of the run.
        var partitionOf = TickFeed.PartitionsOf(keyBytes.Length, partitions);
        GC.Collect();
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var profile = ThreadCpuProfile.Start();
        pipeline.Start(ct);
        var sw = Stopwatch.StartNew();
        await TickFeed.RunAsync(source, messages, keyBytes, keyIndex, partitionOf, count, pacedRate, ct).ConfigureAwait(false);
        await pipeline.CompleteAsync(ct).ConfigureAwait(false);
        sw.Stop();
        // CPU time of the whole process (source, workers, GC) per event: unlike events/s it barely moves when other
        // jobs share the machine, and 2 cores / this is what an idle 2-core machine would reach.
        var cpuNs = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalNanoseconds / count;
        var cpu = profile.Stop();
        var totals = pipeline.Totals();
        if (totals.Forecasts != count) throw new InvalidOperationException($"core run: {totals.Forecasts} forecasts for {count} events ({totals.DeadLetters} dead letters, {totals.Late} late)");
        var hist = new LatencyHistogram();
        foreach (var m in pipeline.Metrics) hist.Add(m.Latency);
        return new RunResult(sw.Elapsed.TotalSeconds, count / sw.Elapsed.TotalSeconds, hist.Quantile(0.5), hist.Quantile(0.99), (double)totals.Forecasts / totals.Batches, cpuNs)
        {
            Profile = cpu, ProfiledEvents = count, StepUs = StepTicks(pipeline) * 1e6 / Stopwatch.Frequency / count,
        };
    }

    /// <summary>Sum of the workers' step times so far (Stopwatch ticks), from their step histograms (bucket upper bounds: ≤ 12.5 % high).</summary>
    private static long StepTicks(StreamPipeline pipeline)
    {
        double us = 0;
        var counts = new long[LatencyHistogram.BucketCount];
        foreach (var m in pipeline.Metrics)
        {
            m.StepLatency.CopyCumulative(counts);
            for (var b = 0; b < counts.Length; b++) us += counts[b] * LatencyHistogram.UpperBound(b);
        }

        return (long)(us * Stopwatch.Frequency / 1e6);
    }
}
