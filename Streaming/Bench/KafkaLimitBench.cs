using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Ingest.Kafka;
using StreamLstm.Model.Delivery;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Kafka;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// The produce side of the Kafka limit: forecast rows produced by the bare client (values serialized beforehand, one cached
/// delivery handler, the forecasts producer's settings) against the same rows written through <see cref="KafkaForecastOutput"/>
/// (serialization, pooled values, epochs), per format, alternating in one run so the difference is the output's own cost.
/// </summary>
internal static class KafkaLimitBench
{
    private const int Horizons = 5;

    public sealed record ProduceCosts(double ClientPlainRate, double ClientJsonRate, double OutputJsonRate, double ClientBinaryRate, double OutputBinaryRate, int JsonBytes, int BinaryBytes, JsonArray Repeats)
    {
        /// <summary>
        /// Process CPU µs per row (all threads, the client's included), least of the repeats: plain client, client JSON, output JSON,
        /// client binary, output binary, then output JSON and binary warm (every key seen before: the service's steady state).
        /// </summary>
        public double[] CpuUs { get; init; } = [];

        /// <summary>Managed bytes allocated per row, least of the repeats, keys seen before: output JSON, output binary, native JSON, native binary.</summary>
        public double[] WarmBytes { get; init; } = [];
    }

    /// <summary>CPU time of the whole process: on a shared box it is far steadier than wall-clock rates.</summary>
    private static double CpuUs()
    {
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalMicroseconds;
    }

    private static async Task<double> CpuPerRowAsync(Func<Task<double>> run, List<double> rates, int rows)
    {
        var before = CpuUs();
        rates.Add(await run().ConfigureAwait(false));
        return (CpuUs() - before) / rows;
    }

    public static async Task<ProduceCosts> MeasureAsync(EmbeddedKafka cluster, int rows, int keys, int repeats, KafkaClientTuning tuning, CancellationToken ct)
    {
        var batches = Batches(rows, keys);
        var json = batches.SelectMany(b => Enumerable.Range(0, b.Count).Select(r => KafkaForecastOutput.ToJson(b, r))).ToArray();
        var binary = batches.SelectMany(b => Enumerable.Range(0, b.Count).Select(r => Binary(b, r))).ToArray();
        var keyBytes = batches.SelectMany(b => b.Keys.Take(b.Count)).Select(k => System.Text.Encoding.UTF8.GetBytes(k)).ToArray();
        var runs = new JsonArray();
        var n = 0;
        string Topic()
        {
            // A fresh topic per run: the mock broker keeps every message in memory.
            var t = "limit-" + (n++).ToString(CultureInfo.InvariantCulture);
            cluster.CreateTopic(t, 8);
            return t;
        }

        var cpus = new List<double[]>();
        var cp = new List<double>();
        var cj = new List<double>();
        var oj = new List<double>();
        var cb = new List<double>();
        var ob = new List<double>();
        var ojw = new List<double>();
        var obw = new List<double>();
        var nj = new List<double>();
        var nb = new List<double>();
        var njw = new List<double>();
        var nbw = new List<double>();
        var bytes = new List<double[]>();
        for (var i = 0; i < repeats; i++)
        {
            var rowsN = json.Length;
            var cpu = new[]
            {
                await CpuPerRowAsync(() => Task.FromResult(ClientOnly(tuning, cluster.BootstrapServers, Topic(), keyBytes, json, ct, plain: true)), cp, rowsN).ConfigureAwait(false),
                await CpuPerRowAsync(() => Task.FromResult(ClientOnly(tuning, cluster.BootstrapServers, Topic(), keyBytes, json, ct)), cj, rowsN).ConfigureAwait(false),
                await CpuPerRowAsync(() => OutputAsync(tuning, cluster.BootstrapServers, Topic(), batches, ForecastFormat.Json, ct), oj, rowsN).ConfigureAwait(false),
                await CpuPerRowAsync(() => Task.FromResult(ClientOnly(tuning, cluster.BootstrapServers, Topic(), keyBytes, binary, ct)), cb, rowsN).ConfigureAwait(false),
                await CpuPerRowAsync(() => OutputAsync(tuning, cluster.BootstrapServers, Topic(), batches, ForecastFormat.Binary, ct), ob, rowsN).ConfigureAwait(false),
                await WarmOutputAsync(tuning, cluster.BootstrapServers, Topic(), batches, ForecastFormat.Json, ojw, ct).ConfigureAwait(false),
                await WarmOutputAsync(tuning, cluster.BootstrapServers, Topic(), batches, ForecastFormat.Binary, obw, ct).ConfigureAwait(false),
                await CpuPerRowAsync(() => OutputAsync(tuning, cluster.BootstrapServers, Topic(), batches, ForecastFormat.Json, ct, ForecastProducePath.Native), nj, rowsN).ConfigureAwait(false),
                await CpuPerRowAsync(() => OutputAsync(tuning, cluster.BootstrapServers, Topic(), batches, ForecastFormat.Binary, ct, ForecastProducePath.Native), nb, rowsN).ConfigureAwait(false),
                await WarmOutputAsync(tuning, cluster.BootstrapServers, Topic(), batches, ForecastFormat.Json, njw, ct, ForecastProducePath.Native).ConfigureAwait(false),
                await WarmOutputAsync(tuning, cluster.BootstrapServers, Topic(), batches, ForecastFormat.Binary, nbw, ct, ForecastProducePath.Native).ConfigureAwait(false),
            };
            cpus.Add(cpu);
            bytes.Add([ojw[^1], obw[^1], njw[^1], nbw[^1]]);
            Console.WriteLine($"    repeat {i}: CPU µs/row client JSON {cpu[1]:N2}, output JSON {cpu[2]:N2} (keys seen before: {cpu[5]:N2}; native {cpu[7]:N2}, keys seen {cpu[9]:N2}), client binary {cpu[3]:N2}, output binary {cpu[4]:N2} (keys seen: {cpu[6]:N2}; native {cpu[8]:N2}, keys seen {cpu[10]:N2})");

            runs.Add(new JsonObject
            {
                ["cpu_us_per_row"] = new JsonArray([.. cpus[^1].Select(c => JsonValue.Create(Math.Round(c, 2)))]),
                ["client_plain_json_per_s"] = Math.Round(cp[^1]), ["client_json_per_s"] = Math.Round(cj[^1]), ["output_json_per_s"] = Math.Round(oj[^1]),
                ["client_binary_per_s"] = Math.Round(cb[^1]), ["output_binary_per_s"] = Math.Round(ob[^1]),
                ["native_output_json_per_s"] = Math.Round(nj[^1]), ["native_output_binary_per_s"] = Math.Round(nb[^1]),
                ["allocated_bytes_per_row_keys_seen"] = new JsonArray([.. bytes[^1].Select(c => JsonValue.Create(Math.Round(c, 1)))]),
            });
        }

        return new ProduceCosts(cp.Max(), cj.Max(), oj.Max(), cb.Max(), ob.Max(), (int)json.Average(v => v.Length), binary[0].Length, runs)
        {
            CpuUs = [.. Enumerable.Range(0, 11).Select(k => cpus.Min(c => c[k]))],
            WarmBytes = [.. Enumerable.Range(0, 4).Select(k => bytes.Min(c => c[k]))],
        };
    }

    /// <summary>
    /// The limit's produce-only step alone (bare client, JSON and binary rows) with <paramref name="tuning"/>'s producer settings:
    /// for the compression sweep, whose rows each need the limit measured with their own settings. Best rate and least process
    /// CPU µs/row of <paramref name="repeats"/>.
    /// </summary>
    public static (double JsonRate, double JsonCpuUs, double BinaryRate, double BinaryCpuUs) ClientOnlyCost(EmbeddedKafka cluster, int rows, int keys, int repeats, KafkaClientTuning tuning, string topicPrefix, CancellationToken ct)
    {
        var batches = Batches(rows, keys);
        var json = batches.SelectMany(b => Enumerable.Range(0, b.Count).Select(r => KafkaForecastOutput.ToJson(b, r))).ToArray();
        var binary = batches.SelectMany(b => Enumerable.Range(0, b.Count).Select(r => Binary(b, r))).ToArray();
        var keyBytes = batches.SelectMany(b => b.Keys.Take(b.Count)).Select(k => System.Text.Encoding.UTF8.GetBytes(k)).ToArray();
        double jr = 0, jc = double.MaxValue, br = 0, bc = double.MaxValue;
        for (var i = 0; i < repeats; i++)
        {
            foreach (var isJson in new[] { true, false })
            {
                var topic = topicPrefix + (isJson ? "-json-" : "-binary-") + i.ToString(CultureInfo.InvariantCulture);
                cluster.CreateTopic(topic, 8);
                var values = isJson ? json : binary;
                var before = CpuUs();
                var rate = ClientOnly(tuning, cluster.BootstrapServers, topic, keyBytes, values, ct);
                var cpu = (CpuUs() - before) / values.Length;
                if (isJson) (jr, jc) = (Math.Max(jr, rate), Math.Min(jc, cpu));
                else (br, bc) = (Math.Max(br, rate), Math.Min(bc, cpu));
            }
        }

        return (jr, jc, br, bc);
    }

    private static byte[] Binary(ForecastBatch b, int r)
    {
        var version = System.Text.Encoding.UTF8.GetBytes(b.ModelVersion);
        var value = new byte[ForecastBinary.Size(b.Horizons, version.Length)];
        ForecastBinary.Write(b, r, version, value);
        return value;
    }

    private static List<ForecastBatch> Batches(int rows, int keys)
    {
        var rng = new Random(5);
        var list = new List<ForecastBatch>();
        for (var done = 0; done < rows;)
        {
            var b = new ForecastBatch(SourceKind.Tick, Horizons, 512) { ModelVersion = "bench" };
            for (var r = 0; r < b.Capacity && done < rows; r++, done++)
            {
                b.Keys[r] = "K" + (done % keys).ToString(CultureInfo.InvariantCulture);
                b.TimestampsMs[r] = 1_700_000_000_000 + done;
                b.Observed[r] = 100 + rng.NextDouble();
                for (var h = 0; h < Horizons; h++)
                {
                    b.Mu[(r * Horizons) + h] = (float)(100 + rng.NextDouble());
                    b.Sigma[(r * Horizons) + h] = (float)rng.NextDouble();
                }

                b.Partitions[r] = done % 8;
                b.Offsets[r] = done;
                b.Count = r + 1;
            }

            list.Add(b);
        }

        return list;
    }

    /// <summary>
    /// The bare client with the forecasts producer's settings — the very config the output's producer is made with
    /// (<see cref="KafkaForecastOutput.ProducerConfig"/>: idempotent, acks=all, the run's compression and extra properties) — or
    /// <paramref name="plain"/>: acks=1, no idempotence, no compression (what the earlier "client alone" figure used).
    /// Pre-serialized values, one cached handler.
    /// </summary>
    private static double ClientOnly(KafkaClientTuning tuning, string bootstrap, string topic, byte[][] keys, byte[][] values, CancellationToken ct, bool plain = false)
    {
        using var space = new QueueSpaceSignal();
        var config = plain
            ? new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.Leader, LingerMs = 5, QueueBufferingMaxMessages = 1_000_000, DeliveryReportFields = "key,value" }
            : KafkaForecastOutput.ProducerConfig(tuning.Forecasts(bootstrap, topic, ForecastFormat.Json));
        using var producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        long delivered = 0;
        Action<DeliveryReport<byte[], byte[]>> onDelivery = _ =>
        {
            Interlocked.Increment(ref delivered);
            space.Signal();
        };
        var message = new Message<byte[], byte[]>();
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < values.Length; i++)
        {
            message.Key = keys[i];
            message.Value = values[i];
            while (true)
            {
                space.Arm();
                try
                {
                    producer.Produce(topic, message, onDelivery);
                    break;
                }
                catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    space.Wait(TimeSpan.FromMilliseconds(100), ct);
                }
            }
        }

        producer.Flush(ct);
        sw.Stop();
        if (Interlocked.Read(ref delivered) != values.Length) throw new InvalidOperationException($"client-only produce: {delivered} of {values.Length} delivered");
        return values.Length / sw.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The output with every key seen before and its code warm (the service's steady state, where keys repeat): one untimed
    /// pass, then the timed one. Returns the process CPU µs per row of the timed pass and adds its managed bytes allocated per
    /// row (all threads) to <paramref name="allocated"/>.
    /// </summary>
    private static async Task<double> WarmOutputAsync(KafkaClientTuning tuning, string bootstrap, string topic, List<ForecastBatch> batches, ForecastFormat format, List<double> allocated, CancellationToken ct, ForecastProducePath path = ForecastProducePath.Client)
    {
        using var output = new KafkaForecastOutput(tuning.Forecasts(bootstrap, topic, format, path), NullLogger.Instance);
        var rows = batches.Sum(b => b.Count);
        foreach (var b in batches) await output.WriteAsync(b, ct).ConfigureAwait(false);
        await output.FlushAsync(ct).ConfigureAwait(false);
        var cpu = CpuUs();
        var alloc = GC.GetTotalAllocatedBytes(false);
        foreach (var b in batches) await output.WriteAsync(b, ct).ConfigureAwait(false);
        await output.FlushAsync(ct).ConfigureAwait(false);
        var perRow = (CpuUs() - cpu) / rows;
        allocated.Add((double)(GC.GetTotalAllocatedBytes(false) - alloc) / rows);
        if (output.Delivered != 2L * rows) throw new InvalidOperationException($"output produce: {output.Delivered} of {2 * rows} delivered");
        return perRow;
    }

    private static async Task<double> OutputAsync(KafkaClientTuning tuning, string bootstrap, string topic, List<ForecastBatch> batches, ForecastFormat format, CancellationToken ct, ForecastProducePath path = ForecastProducePath.Client)
    {
        using var output = new KafkaForecastOutput(tuning.Forecasts(bootstrap, topic, format, path), NullLogger.Instance);
        var rows = batches.Sum(b => b.Count);
        var sw = Stopwatch.StartNew();
        foreach (var b in batches) await output.WriteAsync(b, ct).ConfigureAwait(false);
        await output.FlushAsync(ct).ConfigureAwait(false);
        sw.Stop();
        if (output.Delivered != rows) throw new InvalidOperationException($"output produce: {output.Delivered} of {rows} delivered");
        return rows / sw.Elapsed.TotalSeconds;
    }
}
