using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.Pipeline;

public class PipelineInvariantTests
{
    internal static Dictionary<SourceKind, LstmModel> Models(int hidden = 16, int layers = 2, int horizons = 3) => new()
    {
        [SourceKind.Tick] = LstmModel.CreateRandom(new LstmConfig(3, hidden, layers, horizons), 1),
        [SourceKind.Vitals] = LstmModel.CreateRandom(new LstmConfig(15, hidden, layers, horizons), 2),
        [SourceKind.Audio] = LstmModel.CreateRandom(new LstmConfig(13, hidden, layers, horizons), 3),
    };

    [Fact]
    public async Task EveryKey_StateAndForecasts_EqualSequenceForwardOverThatKeyAlone()
    {
        var models = Models();
        var events = Events.Mixed(3000, ticksKeys: 25, vitalsKeys: 10, audioKeys: 5, seed: 7);
        var output = new CollectingOutput();
        var dlq = new CountingDeadLetterSink();
        // Small batches and chunks force many flushes, repeated keys inside a batch and interleaving across lanes.
        var options = new PipelineOptions { Workers = 2, MaxBatch = 8, ChunkSize = 5, ChannelCapacity = 4, MaxWait = TimeSpan.Zero };
        var pipeline = new StreamPipeline(options, models, [output], dlq);
        pipeline.Start();
        var source = new InProcessSource(pipeline);
        foreach (var (kind, key, value) in events)
        {
            await source.AddAsync(kind, Events.PartitionOf(key, 4), System.Text.Encoding.UTF8.GetBytes(key), value, TestContext.Current.CancellationToken);
        }

        await source.FlushAsync(TestContext.Current.CancellationToken);
        await pipeline.CompleteAsync(TestContext.Current.CancellationToken).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(0, dlq.DeadLetters);
        Assert.Equal(events.Count, output.Count);
        var byKey = output.Rows.GroupBy(r => (r.Source, r.Key)).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var group in events.GroupBy(e => (e.Kind, e.Key)))
        {
            var values = group.Select(e => e.Value).ToList();
            var rows = byKey[group.Key];
            Assert.Equal(values.Count, rows.Count);
            Assert.Equal(rows.Select(r => r.Offset).Order(), rows.Select(r => r.Offset));
            var expected = Reference.ForKey(models[group.Key.Kind], group.Key.Kind, values);
            for (var i = 0; i < rows.Count; i++)
            {
                Reference.AssertClose(expected.Mu[i], rows[i].Mu, 1e-5, $"{group.Key} step {i} mu");
                Reference.AssertClose(expected.Sigma[i], rows[i].Sigma, 1e-5, $"{group.Key} step {i} sigma");
            }

            // Final LSTM state of the key in its worker's slab.
            var ps = source.Partition(group.Key.Kind, Events.PartitionOf(group.Key.Key, 4));
            var engine = pipeline.Workers[ps.Lane].Engine(group.Key.Kind)!;
            var slot = ps.KeySlots[group.Key.Key];
            var cfg = models[group.Key.Kind].Config;
            for (var l = 0; l < cfg.Layers; l++)
            {
                Reference.AssertClose(expected.H.AsSpan(l * cfg.HiddenSize, cfg.HiddenSize), engine.Slab.H(slot, l), 1e-6, $"{group.Key} h layer {l}");
                Reference.AssertClose(expected.C.AsSpan(l * cfg.HiddenSize, cfg.HiddenSize), engine.Slab.C(slot, l), 1e-6, $"{group.Key} c layer {l}");
            }
        }
    }

    [Fact]
    public async Task SameEventsSameOrder_GiveBitIdenticalForecasts_WhateverTheBatching()
    {
        var events = Events.Mixed(1500, 20, 8, 4, seed: 11);
        async Task<List<ForecastRow>> Run(int workers, int maxBatch, int chunk)
        {
            var output = new CollectingOutput();
            var p = new StreamPipeline(new PipelineOptions { Workers = workers, MaxBatch = maxBatch, ChunkSize = chunk, MaxWait = TimeSpan.Zero }, Models(), [output], new CountingDeadLetterSink());
            p.Start();
            var s = new InProcessSource(p);
            foreach (var (kind, key, value) in events) await s.AddAsync(kind, Events.PartitionOf(key, 6), System.Text.Encoding.UTF8.GetBytes(key), value);
            await s.FlushAsync();
            await p.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(60));
            return [.. output.Rows.OrderBy(r => r.Source).ThenBy(r => r.Key, StringComparer.Ordinal).ThenBy(r => r.Offset)];
        }

        var a = await Run(1, 1024, 1024);
        foreach (var b in new[] { await Run(3, 7, 3), await Run(2, 1, 2) })
        {
            Assert.Equal(a.Count, b.Count);
            for (var i = 0; i < a.Count; i++)
            {
                Assert.Equal(a[i].Key, b[i].Key);
                Assert.Equal(a[i].Mu, b[i].Mu);
                Assert.Equal(a[i].Sigma, b[i].Sigma);
            }
        }
    }

    [Fact]
    public async Task BadAndLateEvents_AreCountedAndRouted_WhileGoodOnesFlow()
    {
        var output = new CollectingOutput();
        var dlq = new CountingDeadLetterSink();
        var pipeline = new StreamPipeline(new PipelineOptions { Workers = 1, MaxBatch = 4, MaxWait = TimeSpan.Zero, MaxMessageBytes = 200 }, Models(), [output], dlq);
        pipeline.Start();
        var source = new InProcessSource(pipeline);
        var k = "AAPL"u8.ToArray();
        await source.AddAsync(SourceKind.Tick, 0, k, Events.Tick("AAPL", 1000, 10, 1));
        await source.AddAsync(SourceKind.Tick, 0, k, "{not json"u8.ToArray());
        await source.AddAsync(SourceKind.Tick, 0, k, Events.Tick("AAPL", 2000, -1, 1));
        await source.AddAsync(SourceKind.Tick, 0, null, "{\"ts\":3000,\"price\":1,\"size\":1}"u8.ToArray());
        await source.AddAsync(SourceKind.Tick, 0, k, Events.Tick("AAPL", 500, 10, 1)); // late
        await source.AddAsync(SourceKind.Tick, 0, k, System.Text.Encoding.UTF8.GetBytes("{\"symbol\":\"AAPL\",\"ts\":4000,\"price\":10,\"size\":1,\"pad\":\"" + new string('x', 300) + "\"}"));
        await source.AddAsync(SourceKind.Tick, 0, k, Events.Tick("AAPL", 5000, 11, 1));
        await source.FlushAsync();
        await pipeline.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([1000L, 5000L], output.Rows.Select(r => r.TimestampMs));
        Assert.Equal(1, dlq.LateEvents);
        var reasons = dlq.Recent.Where(r => r.Reason != DeadLetterReason.None).Select(r => (r.Reason, r.Offset)).ToList();
        Assert.Equal([(DeadLetterReason.MalformedJson, 1L), (DeadLetterReason.ImpossibleValue, 2L), (DeadLetterReason.MissingKey, 3L), (DeadLetterReason.Oversized, 5L)], reasons);
        var ps = source.Partition(SourceKind.Tick, 0);
        Assert.Equal(7, ps.Committable);
    }
}
