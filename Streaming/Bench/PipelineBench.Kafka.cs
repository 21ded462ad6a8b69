using System.Diagnostics;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Sink.Kafka;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Bench;

// The Kafka runs: consume-only and produce-only limits, the pipeline through the mock cluster with and without the forecasts topic.
public static partial class PipelineBench
{
    private static async Task<JsonObject> KafkaRunAsync(Dictionary<SourceKind, LstmModel> models, int events, int keys, int workers, JsonArray core, int produceRows, KafkaClientTuning tuning, KafkaClientTuning[] sweep, CancellationToken ct)
    {
        KafkaNative.EnsureLoaded();
        using var cluster = EmbeddedKafka.Start(1);
        const int partitions = 8;
        cluster.CreateTopic("ticks", partitions);
        cluster.CreateTopic("forecasts", partitions);
        var messages = Generate(events, keys, out var keyBytes, out var keyIndex);

        Console.WriteLine();
        Console.WriteLine($"kafka (mock cluster, {partitions} partitions, {events:N0} events, {workers} workers; {tuning})");
        var sw = Stopwatch.StartNew();
        using (var space = new QueueSpaceSignal())
        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 5, BatchNumMessages = 10_000, QueueBufferingMaxMessages = 1_000_000, Acks = Acks.Leader }).Build())
        {
            Action<DeliveryReport<byte[], byte[]>> delivered = _ => space.Signal();
            for (var i = 0; i < messages.Length; i++)
            {
                while (true)
                {
                    space.Arm();
                    try
                    {
                        producer.Produce("ticks", new Message<byte[], byte[]> { Key = keyBytes[keyIndex[i]], Value = messages[i] }, delivered);
                        break;
                    }
                    catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        // The client polls in the background, so its Poll would throw: wait for a delivery report instead.
                        space.Wait(TimeSpan.FromMilliseconds(100), ct);
                    }
                }
            }

            producer.Flush(ct);
        }

        var produceRate = events / sw.Elapsed.TotalSeconds;
        Console.WriteLine($"  produce (client + broker):                {produceRate,12:N0} msg/s");

        // 1) The bare client: drain the topic with the same poll loop, no processing (and the one-call-per-message loop). Both
        // read the same messages, twice in alternation, best of two: the first read of the topic is the slow one whichever
        // loop does it (the mock broker's first fetches), so one run each in a fixed order would favour the second.
        // The native loop (Kafka:ConsumePath=native) reads the same messages in the same alternation.
        DrainCost single = default, drain = default, nativeDrain = default;
        for (var round = 0; round < 2; round++)
        {
            single = Best(single, ConsumeOnlyBench.Drain(cluster.BootstrapServers, events, DrainLoop.Single, tuning.Consumer));
            drain = Best(drain, ConsumeOnlyBench.Drain(cluster.BootstrapServers, events, DrainLoop.Batched, tuning.Consumer));
            nativeDrain = Best(nativeDrain, ConsumeOnlyBench.Drain(cluster.BootstrapServers, events, DrainLoop.Native, tuning.Consumer));
        }

        static DrainCost Best(DrainCost a, DrainCost b) => b.Rate > a.Rate ? b : a;
        var (singleRate, drainRate) = (single.Rate, drain.Rate);
        Console.WriteLine($"  consume only, one Consume(100ms) per msg: {singleRate,12:N0} msg/s");
        Console.WriteLine($"  consume only, drain loop (client+broker): {drainRate,12:N0} msg/s  {drain.CpuUs:N2} CPU µs/msg, {drain.Bytes:N0} B/msg");
        Console.WriteLine($"  consume only, native loop (ConsumePath=native): {nativeDrain.Rate,6:N0} msg/s  {nativeDrain.CpuUs:N2} CPU µs/msg, {nativeDrain.Bytes:N0} B/msg");

        // 1b) The produce side: forecast rows through the bare client and through our output, per format (item 2 and the limit).
        var produce = await KafkaLimitBench.MeasureAsync(cluster, produceRows, keys, 3, tuning, ct).ConfigureAwait(false);
        Console.WriteLine($"  produce only, forecast rows ({produceRows:N0}, best of {produce.Repeats.Count}; JSON {produce.JsonBytes} B, binary {produce.BinaryBytes} B):");
        Console.WriteLine($"  plain client (acks=1, no idempotence, no lz4), JSON: {produce.ClientPlainRate:N0}/s ({1e6 / produce.ClientPlainRate:N2} µs); the rows below use the forecasts producer's settings");
        Console.WriteLine("  {0,-8} {1,14} {2,14} {3,12} {4,12}", "format", "client/s", "output/s", "client µs", "output +µs");
        Console.WriteLine("  {0,-8} {1,14:N0} {2,14:N0} {3,12:N2} {4,12:N2}", "json", produce.ClientJsonRate, produce.OutputJsonRate, 1e6 / produce.ClientJsonRate, (1e6 / produce.OutputJsonRate) - (1e6 / produce.ClientJsonRate));
        Console.WriteLine("  {0,-8} {1,14:N0} {2,14:N0} {3,12:N2} {4,12:N2}", "binary", produce.ClientBinaryRate, produce.OutputBinaryRate, 1e6 / produce.ClientBinaryRate, (1e6 / produce.OutputBinaryRate) - (1e6 / produce.ClientBinaryRate));
        var cpu = produce.CpuUs;
        Console.WriteLine($"  process CPU µs per row (least of the repeats): plain client {cpu[0]:N2}; client JSON {cpu[1]:N2}, output JSON {cpu[2]:N2} (+{cpu[2] - cpu[1]:N2}); client binary {cpu[3]:N2}, output binary {cpu[4]:N2} (+{cpu[4] - cpu[3]:N2})");
        Console.WriteLine($"  the same with every key seen before (steady state): output JSON {cpu[5]:N2} (+{cpu[5] - cpu[1]:N2}), output binary {cpu[6]:N2} (+{cpu[6] - cpu[3]:N2})");
        Console.WriteLine("  produce path, same run   {0,14} {1,14} {2,14} {3,14}", "JSON µs/row", "JSON B/row", "binary µs/row", "binary B/row");
        Console.WriteLine("  {0,-24} {1,14:N2} {2,14:N0} {3,14:N2} {4,14:N0}", "client (keys seen)", cpu[5], produce.WarmBytes[0], cpu[6], produce.WarmBytes[1]);
        Console.WriteLine("  {0,-24} {1,14:N2} {2,14:N0} {3,14:N2} {4,14:N0}", "native (keys seen)", cpu[9], produce.WarmBytes[2], cpu[10], produce.WarmBytes[3]);
        Console.WriteLine("  {0,-24} {1,14:N2} {2,14} {3,14:N2} {4,14}", "native (cold)", cpu[7], "", cpu[8], "");

        // 2) The whole pipeline from the topic, forecasts to a counting output.
        var full = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, tuning, withTopic: false, ct).ConfigureAwait(false);
        Console.WriteLine($"  pipeline, forecasts counted:              {full.Rate,12:N0} events/s  p50 {full.P50:N0} µs  p99 {full.P99:N0} µs");
        Console.WriteLine($"    CPU µs/event by thread: {full.Profile?.Format(full.ProfiledEvents)}; worker step ≈{full.StepUs:N2} µs/event (wall), mean batch {full.MeanBatch:N0}");
        Console.WriteLine($"    waits: {full.Wait?.Format(full.Profile)}");

        // 3) The same with the forecasts topic (JSON through the idempotent producer).
        var withTopic = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, tuning, withTopic: true, ct).ConfigureAwait(false);
        Console.WriteLine($"  pipeline + forecasts topic:               {withTopic.Rate,12:N0} events/s  p50 {withTopic.P50:N0} µs  p99 {withTopic.P99:N0} µs");
        Console.WriteLine($"    CPU µs/event by thread: {withTopic.Profile?.Format(withTopic.ProfiledEvents)}; worker step ≈{withTopic.StepUs:N2} µs/event, inside the topic output {withTopic.OutputUs[0]:N2} µs/event (wall), mean batch {withTopic.MeanBatch:N0}");
        Console.WriteLine($"    waits: {withTopic.Wait?.Format(withTopic.Profile)}");

        // 3b) The same with the forecasts topic through the native produce path (librdkafka directly, bulk delivery reports).
        var native = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, tuning, withTopic: true, ct, path: ForecastProducePath.Native).ConfigureAwait(false);
        Console.WriteLine($"  pipeline + forecasts topic, native path:  {native.Rate,12:N0} events/s  p50 {native.P50:N0} µs  p99 {native.P99:N0} µs");
        Console.WriteLine($"    CPU µs/event by thread: {native.Profile?.Format(native.ProfiledEvents)}; inside the topic output {native.OutputUs[0]:N2} µs/event (wall)");
        Console.WriteLine($"    waits: {native.Wait?.Format(native.Profile)}");
        // 3c) Both native paths: messages read with rd_kafka_consumer_poll (Kafka:ConsumePath=native), forecasts produced natively.
        var nativeBoth = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, tuning, withTopic: true, ct, path: ForecastProducePath.Native, consume: ConsumePath.Native).ConfigureAwait(false);
        Console.WriteLine($"  pipeline + forecasts topic, native consume + native produce: {nativeBoth.Rate,12:N0} events/s  p50 {nativeBoth.P50:N0} µs  p99 {nativeBoth.P99:N0} µs");
        Console.WriteLine($"    CPU µs/event by thread: {nativeBoth.Profile?.Format(nativeBoth.ProfiledEvents)}; inside the topic output {nativeBoth.OutputUs[0]:N2} µs/event (wall)");
        Console.WriteLine($"    waits: {nativeBoth.Wait?.Format(nativeBoth.Profile)}");
        static double CpuPerEvent(RunResult r) => r.Profile is { } p ? p.TotalNs / 1e3 / Math.Max(1, r.ProfiledEvents) : double.NaN;
        static double BytesPerEvent(RunResult r) => r.Profile is { } p ? (double)p.AllocatedBytes / Math.Max(1, r.ProfiledEvents) : double.NaN;
        static double GcPerEvent(RunResult r) => r.Profile is { } p ? p.GcPause.TotalMicroseconds / Math.Max(1, r.ProfiledEvents) : double.NaN;
        Console.WriteLine("  {0,-34} {1,12} {2,10} {3,12}", "same run", "CPU µs/ev", "B/event", "GC µs/ev");
        foreach (var (label, r) in new[] { ("forecasts counted only", full), ("+ forecasts topic, client path", withTopic), ("+ forecasts topic, native path", native), ("+ native consume, native produce", nativeBoth) })
        {
            Console.WriteLine("  {0,-34} {1,12:N2} {2,10:N0} {3,12:N2}", label, CpuPerEvent(r), BytesPerEvent(r), GcPerEvent(r));
        }

        // The same with the lanes of the old default (16 chunks): a backlog pauses them, and the refetch after each resume
        // starved the workers (docs/benchmarks.md, "Kafka path: where the wall time went").
        var lane16 = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, tuning, withTopic: true, ct, laneChunks: 16).ConfigureAwait(false);
        Console.WriteLine($"  pipeline + forecasts topic, 16-chunk lanes: {lane16.Rate,12:N0} events/s  (the old default, same run)");
        Console.WriteLine($"    CPU µs/event: {lane16.Profile?.TotalNs / 1e3 / Math.Max(1, lane16.ProfiledEvents):N2}; waits: {lane16.Wait?.Format(lane16.Profile)}");

        // The limit: what the client and broker alone need per event, consuming one tick and producing one forecast row.
        var limit = 1 / ((1 / drainRate) + (1 / produce.ClientJsonRate));
        var ratio = withTopic.Rate / limit;
        Console.WriteLine();
        Console.WriteLine("  {0,-40} {1,14}", "limit (consume-only + produce-only)", "events/s");
        Console.WriteLine("  {0,-40} {1,14:N0}", "consume only (drain loop)", drainRate);
        Console.WriteLine("  {0,-40} {1,14:N0}", "produce only (forecast rows, JSON)", produce.ClientJsonRate);
        Console.WriteLine("  {0,-40} {1,14:N0}", "limit: 1 / (1/consume + 1/produce)", limit);
        Console.WriteLine("  {0,-40} {1,14:N0}", "pipeline + forecasts topic", withTopic.Rate);
        Console.WriteLine("  {0,-40} {1,14:P1}", "limit ratio", ratio);
        Console.WriteLine("  {0,-40} {1,14:N0}", "pipeline + topic, native produce", native.Rate);
        Console.WriteLine("  {0,-40} {1,14:P1}", "limit ratio, native produce", native.Rate / limit);
        Console.WriteLine("  {0,-40} {1,14:N0}", "pipeline + topic, native consume+produce", nativeBoth.Rate);
        Console.WriteLine("  {0,-40} {1,14:P1}", "limit ratio, native consume+produce", nativeBoth.Rate / limit);
        // The same limit with the native consume loop as its consume side: what the native paths are up against.
        var nativeLimit = 1 / ((1 / nativeDrain.Rate) + (1 / produce.ClientJsonRate));
        Console.WriteLine("  {0,-40} {1,14:N0}", "limit, native consume loop", nativeLimit);
        Console.WriteLine("  {0,-40} {1,14:P1}", "native consume+produce / that limit", nativeBoth.Rate / nativeLimit);

        var sweepJson = sweep.Length > 0 ? await CompressionSweepAsync(cluster, models, events, keys, workers, produceRows, tuning, sweep, drainRate, ct).ConfigureAwait(false) : null;

        var coreRate = core.Count > 0 ? core[^1]!["events_per_s"]!.GetValue<double>() : double.NaN;
        var usClient = 1e6 / drainRate;
        var usOurs = 1e6 / coreRate;
        var usTotal = 1e6 / full.Rate;
        var usTopic = 1e6 / withTopic.Rate - usTotal;
        Console.WriteLine($"  per event: client+broker {usClient:N2} µs, our code {usOurs:N2} µs (core, {workers} workers), whole {usTotal:N2} µs, forecasts topic +{usTopic:N2} µs");
        return new JsonObject
        {
            ["partitions"] = partitions, ["events"] = events, ["keys"] = keys, ["workers"] = workers,
            ["client_settings"] = tuning.ToJson(),
            ["produce_events_per_s"] = Math.Round(produceRate),
            ["consume_only_drain_events_per_s"] = Math.Round(drainRate),
            ["consume_only_single_message_events_per_s"] = Math.Round(singleRate),
            ["consume_only_native_events_per_s"] = Math.Round(nativeDrain.Rate),
            ["consume_only_cost"] = new JsonObject
            {
                ["cpu_us_per_message"] = new JsonObject { ["drain"] = Math.Round(drain.CpuUs, 3), ["native"] = Math.Round(nativeDrain.CpuUs, 3) },
                ["allocated_bytes_per_message"] = new JsonObject { ["drain"] = Math.Round(drain.Bytes, 1), ["native"] = Math.Round(nativeDrain.Bytes, 1) },
            },
            ["pipeline_with_forecasts_topic_native_consume_events_per_s"] = Math.Round(nativeBoth.Rate), ["with_topic_native_consume_p50_us"] = nativeBoth.P50, ["with_topic_native_consume_p99_us"] = nativeBoth.P99,
            ["limit_ratio_native_produce"] = Math.Round(native.Rate / limit, 3),
            ["limit_ratio_native_consume_and_produce"] = Math.Round(nativeBoth.Rate / limit, 3),
            ["limit_native_consume_events_per_s"] = Math.Round(nativeLimit),
            ["limit_ratio_native_consume_and_produce_vs_native_limit"] = Math.Round(nativeBoth.Rate / nativeLimit, 3),
            ["pipeline_events_per_s"] = Math.Round(full.Rate), ["p50_us"] = full.P50, ["p99_us"] = full.P99,
            ["pipeline_with_forecasts_topic_native_events_per_s"] = Math.Round(native.Rate), ["with_topic_native_p50_us"] = native.P50, ["with_topic_native_p99_us"] = native.P99,
            ["forecasts_topic_by_path"] = new JsonObject
            {
                ["cpu_us_per_event"] = new JsonObject { ["counted_only"] = Math.Round(CpuPerEvent(full), 3), ["client"] = Math.Round(CpuPerEvent(withTopic), 3), ["native"] = Math.Round(CpuPerEvent(native), 3), ["native_consume_and_produce"] = Math.Round(CpuPerEvent(nativeBoth), 3) },
                ["allocated_bytes_per_event"] = new JsonObject { ["counted_only"] = Math.Round(BytesPerEvent(full), 1), ["client"] = Math.Round(BytesPerEvent(withTopic), 1), ["native"] = Math.Round(BytesPerEvent(native), 1), ["native_consume_and_produce"] = Math.Round(BytesPerEvent(nativeBoth), 1) },
                ["gc_pause_us_per_event"] = new JsonObject { ["counted_only"] = Math.Round(GcPerEvent(full), 3), ["client"] = Math.Round(GcPerEvent(withTopic), 3), ["native"] = Math.Round(GcPerEvent(native), 3), ["native_consume_and_produce"] = Math.Round(GcPerEvent(nativeBoth), 3) },
            },
            ["pipeline_with_forecasts_topic_events_per_s"] = Math.Round(withTopic.Rate), ["pipeline_with_forecasts_topic_lane16_events_per_s"] = Math.Round(lane16.Rate), ["with_topic_p50_us"] = withTopic.P50, ["with_topic_p99_us"] = withTopic.P99,
            ["profile"] = new JsonObject
            {
                ["pipeline"] = full.Profile?.ToJson(full.ProfiledEvents),
                ["pipeline_with_forecasts_topic"] = withTopic.Profile?.ToJson(withTopic.ProfiledEvents),
                ["worker_step_wall_us_per_event"] = new JsonArray(Math.Round(full.StepUs, 3), Math.Round(withTopic.StepUs, 3)),
                ["topic_output_wall_us_per_event"] = Math.Round(withTopic.OutputUs[0], 3),
                ["mean_batch"] = new JsonArray(Math.Round(full.MeanBatch, 1), Math.Round(withTopic.MeanBatch, 1)),
                ["waits"] = full.Wait?.ToJson(),
                ["waits_with_forecasts_topic"] = withTopic.Wait?.ToJson(),
                ["pipeline_with_forecasts_topic_native"] = native.Profile?.ToJson(native.ProfiledEvents),
                ["waits_with_forecasts_topic_native"] = native.Wait?.ToJson(),
                ["topic_output_native_wall_us_per_event"] = Math.Round(native.OutputUs[0], 3),
                ["pipeline_with_forecasts_topic_native_consume"] = nativeBoth.Profile?.ToJson(nativeBoth.ProfiledEvents),
                ["waits_with_forecasts_topic_native_consume"] = nativeBoth.Wait?.ToJson(),
                ["pipeline_with_forecasts_topic_lane16"] = lane16.Profile?.ToJson(lane16.ProfiledEvents),
                ["waits_with_forecasts_topic_lane16"] = lane16.Wait?.ToJson(),
            },
            ["us_per_event"] = new JsonObject
            {
                ["client_and_broker"] = Math.Round(usClient, 3),
                ["our_code_core"] = double.IsFinite(usOurs) ? Math.Round(usOurs, 3) : null,
                ["whole_pipeline"] = Math.Round(usTotal, 3),
                ["forecasts_topic_extra"] = Math.Round(usTopic, 3),
                ["forecasts_topic_native_extra"] = Math.Round((1e6 / native.Rate) - usTotal, 3),
            },
            ["produce_only"] = new JsonObject
            {
                ["rows"] = produceRows, ["json_bytes"] = produce.JsonBytes, ["binary_bytes"] = produce.BinaryBytes,
                ["client_plain_json_per_s"] = Math.Round(produce.ClientPlainRate),
                ["cpu_us_per_row"] = new JsonObject
                {
                    ["plain_client_json"] = Math.Round(cpu[0], 3), ["client_json"] = Math.Round(cpu[1], 3), ["output_json"] = Math.Round(cpu[2], 3),
                    ["client_binary"] = Math.Round(cpu[3], 3), ["output_binary"] = Math.Round(cpu[4], 3),
                    ["output_json_keys_seen"] = Math.Round(cpu[5], 3), ["output_binary_keys_seen"] = Math.Round(cpu[6], 3),
                    ["native_output_json"] = Math.Round(cpu[7], 3), ["native_output_binary"] = Math.Round(cpu[8], 3),
                    ["native_output_json_keys_seen"] = Math.Round(cpu[9], 3), ["native_output_binary_keys_seen"] = Math.Round(cpu[10], 3),
                },
                ["allocated_bytes_per_row_keys_seen"] = new JsonObject
                {
                    ["output_json"] = Math.Round(produce.WarmBytes[0], 1), ["output_binary"] = Math.Round(produce.WarmBytes[1], 1),
                    ["native_output_json"] = Math.Round(produce.WarmBytes[2], 1), ["native_output_binary"] = Math.Round(produce.WarmBytes[3], 1),
                },
                ["client_json_per_s"] = Math.Round(produce.ClientJsonRate), ["output_json_per_s"] = Math.Round(produce.OutputJsonRate),
                ["client_binary_per_s"] = Math.Round(produce.ClientBinaryRate), ["output_binary_per_s"] = Math.Round(produce.OutputBinaryRate),
                ["output_json_extra_us_per_row"] = Math.Round((1e6 / produce.OutputJsonRate) - (1e6 / produce.ClientJsonRate), 3),
                ["output_binary_extra_us_per_row"] = Math.Round((1e6 / produce.OutputBinaryRate) - (1e6 / produce.ClientBinaryRate), 3),
                ["repeats"] = produce.Repeats,
            },
            ["limit_events_per_s"] = Math.Round(limit),
            ["limit_ratio"] = Math.Round(ratio, 3),
            ["compression_sweep"] = sweepJson,
            ["latency_note"] = "latency is from the consumer taking the message off the client to the forecast batch being handed to the outputs",
        };
    }

    /// <summary>
    /// <c>--compression-sweep</c> / <c>--client-sweep</c>: client settings varied in one process, two rounds in alternating
    /// order, each variant's produce-only step (the limit's: bare client, the variant's producer settings) next to the
    /// pipeline + topic on the client path and on native consume + native produce. Each row's limit is the bench's limit
    /// measured with the settings the row ran with: the run's drain-loop consume rate (measured again with the variant's
    /// consumer settings when it has any) with the variant's produce-only rate.
    /// </summary>
    private static async Task<JsonArray> CompressionSweepAsync(EmbeddedKafka cluster, Dictionary<SourceKind, LstmModel> models, int events, int keys, int workers, int produceRows,
        KafkaClientTuning tuning, KafkaClientTuning[] sweep, double drainRate, CancellationToken ct)
    {
        Console.WriteLine();
        Console.WriteLine($"  client settings sweep ({string.Join("; ", sweep.Select(v => v.ToString()))}; two rounds, the second in reverse order): CPU µs/event by thread, and each row's limit with its own produce-only step");
        var rows = new JsonArray();
        var n = 0;
        for (var round = 0; round < 2; round++)
        {
            foreach (var t in round == 0 ? sweep : sweep.Reverse())
            {
                var produce = KafkaLimitBench.ClientOnlyCost(cluster, produceRows, keys, 2, t, "sweep-" + (n++).ToString(System.Globalization.CultureInfo.InvariantCulture), ct);
                var drain = drainRate;
                if (!ReferenceEquals(t.Consumer, tuning.Consumer))
                {
                    drain = Math.Max(ConsumeOnlyBench.Drain(cluster.BootstrapServers, events, DrainLoop.Batched, t.Consumer).Rate, ConsumeOnlyBench.Drain(cluster.BootstrapServers, events, DrainLoop.Batched, t.Consumer).Rate);
                    Console.WriteLine($"  [{round}] {t} consume only (drain loop, its consumer settings): {drain:N0} msg/s");
                }

                var limit = 1 / ((1 / drain) + (1 / produce.JsonRate));
                var name = t.ToString();
                Console.WriteLine($"  [{round}] {name} produce only (bare client): JSON {produce.JsonRate:N0}/s {produce.JsonCpuUs:N2} CPU µs/row, binary {produce.BinaryRate:N0}/s {produce.BinaryCpuUs:N2} µs/row; limit {limit:N0}/s");
                var row = new JsonObject
                {
                    ["round"] = round, ["variant"] = name, ["client_settings"] = t.ToJson(), ["consume_only_drain_events_per_s"] = Math.Round(drain),
                    ["produce_only"] = new JsonObject
                    {
                        ["client_json_per_s"] = Math.Round(produce.JsonRate), ["client_json_cpu_us_per_row"] = Math.Round(produce.JsonCpuUs, 3),
                        ["client_binary_per_s"] = Math.Round(produce.BinaryRate), ["client_binary_cpu_us_per_row"] = Math.Round(produce.BinaryCpuUs, 3),
                    },
                    ["limit_events_per_s"] = Math.Round(limit),
                };
                foreach (var (label, path, consume) in new[] { ("client", ForecastProducePath.Client, ConsumePath.Client), ("native_consume_and_produce", ForecastProducePath.Native, ConsumePath.Native) })
                {
                    var r = await PipelineFromKafkaAsync(cluster.BootstrapServers, models, events, keys, workers, t, withTopic: true, ct, path: path, consume: consume).ConfigureAwait(false);
                    var cpu = r.Profile is { } p ? p.TotalNs / 1e3 / Math.Max(1, r.ProfiledEvents) : double.NaN;
                    Console.WriteLine($"  [{round}] {name} {label,-27} {r.Rate,10:N0} events/s = {r.Rate / limit,6:P1} of its limit; {cpu:N2} CPU µs/event: {r.Profile?.Format(r.ProfiledEvents)}");
                    row[label] = new JsonObject
                    {
                        ["events_per_s"] = Math.Round(r.Rate), ["limit_ratio"] = Math.Round(r.Rate / limit, 3), ["cpu_us_per_event"] = Math.Round(cpu, 3),
                        ["profile"] = r.Profile?.ToJson(r.ProfiledEvents), ["waits"] = r.Wait?.ToJson(),
                    };
                }

                rows.Add(row);
            }
        }

        return rows;
    }

    private static async Task<RunResult> PipelineFromKafkaAsync(string bootstrap, Dictionary<SourceKind, LstmModel> models, int events, int keys, int workers, KafkaClientTuning tuning, bool withTopic, CancellationToken ct, int laneChunks = PipelineOptions.DefaultChannelCapacity, ForecastProducePath path = ForecastProducePath.Client,
        ConsumePath consume = ConsumePath.Client)
    {
        var options = new PipelineOptions { Workers = workers, MaxBatch = 512, ChunkSize = 1024, ChannelCapacity = laneChunks, MaxWait = TimeSpan.FromMilliseconds(1), InitialSlots = keys / workers + 1024 };
        var counting = new CountingOutput();
        KafkaForecastOutput? topic = withTopic ? new KafkaForecastOutput(tuning.Forecasts(bootstrap, "forecasts", ForecastFormat.Json, path), NullLogger.Instance) : null;
        var timedTopic = topic is null ? null : new TimedOutput(topic);
        IForecastOutput[] outputs = timedTopic is null ? [counting] : [counting, timedTopic];
        var pipeline = new StreamPipeline(options, models, outputs, new CountingDeadLetterSink());
        var consumer = new KafkaIngestConsumer(new KafkaConsumerOptions
        {
            BootstrapServers = bootstrap, GroupId = "bench-" + Guid.NewGuid().ToString("N"), Topics = new() { ["ticks"] = SourceKind.Tick }, ConsumePath = consume,
            Extra = new(tuning.Consumer),
        }, pipeline.Lanes, options.LaneCapacityMessages, pipeline.Pool, NullLogger.Instance);
        pipeline.Start(ct);
        using var stop = new CancellationTokenSource();
        var thread = new Thread(() => consumer.Run(stop.Token)) { IsBackground = true, Name = "bench-consumer" };
        thread.Start();
        // Time from the first forecast to the last, so group join and assignment are not counted. The window is taken on a
        // thread of its own, woken by the counting output itself, and closes at the time the last forecast was counted: an
        // await here resumed on the thread pool, whose threads the workers held while their lanes were full (2 workers =
        // the pool's default minimum on 2 cores), so the window opened and closed up to seconds late (docs/benchmarks.md,
        // "Native consume + native produce: the bench's window and the thread pool").
        var window = await OnOwnThreadAsync("bench-window", () =>
        {
            counting.Arm(1);
            if (!counting.Wait(TimeSpan.FromMinutes(2), ct)) throw new TimeoutException("kafka pipeline: no forecast within 2 minutes of the start (group join, assignment, first batch)");
            var profile = ThreadCpuProfile.Start();
            var outputTicks0 = timedTopic?.Ticks ?? 0;
            var stepTicks0 = StepTicks(pipeline);
            var inputWait0 = InputWaitNsNow(pipeline);
            var inputWaits0 = pipeline.Metrics.Sum(m => m.InputWaits);
            var pauses0 = consumer.Pauses;
            var queueFull0 = topic?.QueueFullWaitTime ?? TimeSpan.Zero;
            var startCount = counting.Count;
            var from = Stopwatch.GetTimestamp();
            var probe = new PoolProbe();
            // A timeout is reported as the rate of what did arrive.
            counting.Arm(events);
            var deadline = from + (5 * 60 * Stopwatch.Frequency);
            bool reached;
            while (!(reached = counting.Wait(TimeSpan.FromMilliseconds(10), ct)) && Stopwatch.GetTimestamp() < deadline) probe.Tick();
            var to = reached ? counting.ReachedAt : Stopwatch.GetTimestamp();
            var inputWait1 = InputWaitNsNow(pipeline);
            var done = counting.Count - startCount;
            var cpu = profile.Stop();
            var pool = probe.Stop();
            var seconds = Stopwatch.GetElapsedTime(from, to).TotalSeconds;
            var waits = new Waits(
                (inputWait1 - inputWait0) / 1e9 / (workers * seconds),
                pipeline.Metrics.Sum(m => m.InputWaits) - inputWaits0,
                consumer.Pauses - pauses0,
                ((topic?.QueueFullWaitTime ?? TimeSpan.Zero) - queueFull0).TotalSeconds / (workers * seconds),
                pool);
            var outputUs = timedTopic is null ? 0 : (timedTopic.Ticks - outputTicks0) * 1e6 / Stopwatch.Frequency / done;
            var stepUs = (StepTicks(pipeline) - stepTicks0) * 1e6 / Stopwatch.Frequency / done;
            return (Seconds: seconds, Done: done, Cpu: cpu, Waits: waits, OutputUs: outputUs, StepUs: stepUs);
        }).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        thread.Join();
        await pipeline.CompleteAsync(ct).ConfigureAwait(false);
        topic?.Dispose();
        var hist = new LatencyHistogram();
        foreach (var m in pipeline.Metrics) hist.Add(m.Latency);
        var t = pipeline.Totals();
        return new RunResult(window.Seconds, window.Done / window.Seconds, hist.Quantile(0.5), hist.Quantile(0.99), (double)t.Forecasts / Math.Max(1, t.Batches))
        {
            Profile = window.Cpu, ProfiledEvents = window.Done, OutputUs = [window.OutputUs], StepUs = window.StepUs, Wait = window.Waits,
        };
    }

    /// <summary>Runs <paramref name="body"/> on a thread of its own (it blocks: a window measured on it needs no pool thread).</summary>
    private static Task<T> OnOwnThreadAsync<T>(string name, Func<T> body)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                done.SetResult(body());
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        }) { IsBackground = true, Name = name };
        thread.Start();
        return done.Task;
    }
}

/// <summary>
/// The Kafka run's client settings (<c>--forecast-compression</c>, <c>--forecast-producer</c>, <c>--consumer</c>): applied to
/// the pipeline's consumer and forecasts output and to the limit's consume-only and produce-only steps alike, so the limit
/// is always measured with the clients the pipeline runs with.
/// </summary>
/// <param name="Compression">The forecasts producer's compression.</param>
/// <param name="Producer">Extra librdkafka properties of the forecasts producer (applied last).</param>
/// <param name="Consumer">Extra librdkafka properties of the consumer (applied last).</param>
internal sealed record KafkaClientTuning(ForecastCompression Compression, IReadOnlyDictionary<string, string> Producer, IReadOnlyDictionary<string, string> Consumer)
{
    /// <summary>The shipped defaults.</summary>
    public static KafkaClientTuning Default { get; } = new(ForecastCompression.Lz4, new Dictionary<string, string>(), new Dictionary<string, string>());

    /// <summary>The forecasts output's settings with this tuning.</summary>
    public KafkaForecastOutputOptions Forecasts(string bootstrap, string topic, ForecastFormat format, ForecastProducePath path = ForecastProducePath.Client) => new()
    {
        BootstrapServers = bootstrap, Topic = topic, Format = format, ProducePath = path, Compression = Compression, Extra = new(Producer),
    };

    /// <summary>
    /// This tuning with a sweep variant's settings on top: <c>compression=X</c>, <c>p.NAME=VALUE</c> (forecasts producer),
    /// <c>c.NAME=VALUE</c> (consumer), comma-separated. A variant without consumer settings keeps this tuning's consumer
    /// dictionary (the same instance: its limit reuses the run's drain-loop rate).
    /// </summary>
    public KafkaClientTuning With(string variant, string option)
    {
        var compression = Compression;
        Dictionary<string, string>? producer = null, consumer = null;
        foreach (var (k, v) in ParseProperties(variant, option))
        {
            if (k == "compression")
            {
                compression = Enum.TryParse<ForecastCompression>(v, ignoreCase: true, out var c) && Enum.IsDefined(c) ? c : throw new ArgumentException($"{option}: '{v}' is not none, lz4, snappy or zstd");
            }
            else if (k.StartsWith("p.", StringComparison.Ordinal))
            {
                (producer ??= new(Producer))[k[2..]] = v;
            }
            else if (k.StartsWith("c.", StringComparison.Ordinal))
            {
                (consumer ??= new(Consumer))[k[2..]] = v;
            }
            else
            {
                throw new ArgumentException($"{option}: '{k}' is not compression, p.NAME or c.NAME");
            }
        }

        return new KafkaClientTuning(compression, producer ?? Producer, consumer ?? Consumer);
    }

    /// <summary>Parses <c>k=v,k=v</c> (empty: none).</summary>
    public static Dictionary<string, string> ParseProperties(string text, string option)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new ArgumentException($"{option}: '{pair}' is not NAME=VALUE");
            d[pair[..eq]] = pair[(eq + 1)..];
        }

        return d;
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"forecasts compression {Compression.ToString().ToLowerInvariant()}" + (Producer.Count > 0 ? $", producer {Join(Producer)}" : "") + (Consumer.Count > 0 ? $", consumer {Join(Consumer)}" : "");

    /// <summary>For pipeline.json.</summary>
    public JsonObject ToJson() => new()
    {
        ["forecast_compression"] = Compression.ToString().ToLowerInvariant(),
        ["forecast_producer"] = Properties(Producer),
        ["consumer"] = Properties(Consumer),
    };

    private static JsonObject Properties(IReadOnlyDictionary<string, string> d)
    {
        var o = new JsonObject();
        foreach (var (k, v) in d) o[k] = v;
        return o;
    }

    private static string Join(IReadOnlyDictionary<string, string> d) => string.Join(",", d.Select(kv => kv.Key + "=" + kv.Value));
}
