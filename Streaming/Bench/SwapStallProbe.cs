using System.Diagnostics;
using System.Text.Json.Nodes;
using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Bench;

/// <summary>
/// What a hot swap costs the serving path (part of <c>bench online</c>): <c>keys</c> resident keys with a full re-warm
/// history, a promotion, then one event (the first micro-batch after the swap) and one event for every key. Each key is
/// re-warmed by its own next micro-batch, so the first event waits for one key's re-warm, not every key's; the same events
/// sent again with no swap are the peer, and the difference between the two "every key" figures is the re-warm's total
/// CPU, which a swap re-warming every key at once would have spent in that first micro-batch.
/// </summary>
internal static class SwapStallProbe
{
    private static readonly TimeSpan Phase = TimeSpan.FromMinutes(5);

    /// <summary>Runs the probe and prints its line.</summary>
    /// <param name="keys">Resident keys.</param>
    /// <param name="hidden">Hidden size.</param>
    /// <param name="ct">Cancellation.</param>
    /// <returns>The JSON row.</returns>
    public static async Task<JsonObject> RunAsync(int keys, int hidden, CancellationToken ct)
    {
        var model = LstmModel.CreateRandom(new LstmConfig(3, hidden, 2, 5), 7);
        model.Metadata = model.Metadata with { Version = "bench" };
        var models = new Dictionary<SourceKind, LstmModel> { [SourceKind.Tick] = model };
        var output = new CountingOutput();
        var options = new PipelineOptions { Workers = 1, MaxBatch = 512, ChunkSize = 1024, ChannelCapacity = 16, InitialSlots = keys + 1024, MaxWait = TimeSpan.Zero };
        var pipeline = new StreamPipeline(options, models, [output], new CountingDeadLetterSink());
        var online = new OnlineLearning(models, new OnlineOptions { Enabled = true, Window = 256, SnapshotEvery = 32, WindowLength = 32 });
        pipeline.AttachOnline(online);
        var tick = online.For(SourceKind.Tick)!;
        var source = new InProcessSource(pipeline);
        var keyBytes = Enumerable.Range(0, keys).Select(k => System.Text.Encoding.UTF8.GetBytes($"S{k:D6}")).ToArray();
        var buffer = new byte[EventJson.MaxEventBytes];
        var rng = new Random(5);
        var round = new int[keys];
        pipeline.Start(ct);

        // Round-robin, so every key holds exactly its full re-warm history before the swap.
        async Task<double> SendAsync(int firstKey, int count)
        {
            var target = output.Count + count;
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                var k = (firstKey + i) % keys;
                // One tick a second per key, a small random walk around 100.
                var n = EventJson.WriteTick(buffer, keyBytes[k], 1_700_000_000_000 + (1000L * round[k]++), 100 + rng.NextDouble(), 100, double.NaN, double.NaN, decimals: 2);
                await source.AddAsync(SourceKind.Tick, k % 16, keyBytes[k], buffer.AsSpan(0, n).ToArray(), ct).ConfigureAwait(false);
            }

            await source.FlushAsync(ct).ConfigureAwait(false);
            await output.WaitForAsync(target, Phase, ct).ConfigureAwait(false);
            return sw.Elapsed.TotalMilliseconds;
        }

        await SendAsync(0, keys * tick.RewarmSteps).ConfigureAwait(false);
        var steady = await SendAsync(0, keys).ConfigureAwait(false);
        var next = LstmModel.CreateRandom(model.Config, 8);
        next.Metadata = model.Metadata with { Version = "bench-v2" };
        tick.Publish(next);
        var first = await SendAsync(0, 1).ConfigureAwait(false);
        var rest = await SendAsync(1, keys - 1).ConfigureAwait(false);
        var rewarmed = tick.RewarmedKeys;
        await pipeline.CompleteAsync(ct).ConfigureAwait(false);
        var extra = first + rest - steady;
        Console.WriteLine($"hot swap with {keys:N0} resident keys (H={hidden}, {tick.RewarmSteps}-step histories): first event after the swap {first:N1} ms; " +
            $"every key's next event {first + rest:N1} ms against {steady:N1} ms with no swap (re-warm {extra:N1} ms in all, {rewarmed:N0} keys, spread over their own micro-batches)");
        return new JsonObject
        {
            ["keys"] = keys, ["hidden"] = hidden, ["rewarm_steps"] = tick.RewarmSteps, ["first_event_after_swap_ms"] = Math.Round(first, 2),
            ["every_key_after_swap_ms"] = Math.Round(first + rest, 2), ["every_key_no_swap_ms"] = Math.Round(steady, 2),
            ["rewarm_total_ms"] = Math.Round(extra, 2), ["rewarmed_keys"] = rewarmed,
        };
    }

    /// <summary>Counts forecasts and lets the probe wait for a count.</summary>
    private sealed class CountingOutput : IForecastOutput
    {
        private long _count;
        private long _target = long.MaxValue;
        private TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Count => Interlocked.Read(ref _count);

        public ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
        {
            if (Interlocked.Add(ref _count, batch.Count) >= Interlocked.Read(ref _target)) _reached.TrySetResult();
            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public async Task WaitForAsync(long target, TimeSpan timeout, CancellationToken ct)
        {
            _reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _target, target);
            if (Count >= target) return;
            await _reached.Task.WaitAsync(timeout, ct).ConfigureAwait(false);
        }
    }
}
