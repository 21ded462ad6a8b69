using System.Text;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;
using StreamLstm.Streaming.Storage.Memory;
using StreamLstm.Streaming.Tests.Pipeline;
using StreamLstm.Streaming.Tests.TestSupport;

namespace StreamLstm.Streaming.Tests.State;

/// <summary>State:KeyTtl: keys idle longer than the TTL in their partition's event time are deleted at a checkpoint, and start fresh when they return.</summary>
public class KeyTtlTests
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(5);

    private static PipelineOptions Options() => new() { Workers = 1, MaxBatch = 4, ChunkSize = 3, ChannelCapacity = 64, MaxWait = TimeSpan.Zero };

    // "busy" ticks every 100 ms for 20 s; "idle" ticks for the first second, then comes back at 15 s.
    private static List<InputMessage> Input()
    {
        var list = new List<InputMessage>();
        long offset = 0;
        for (var t = 0L; t <= 20_000; t += 100)
        {
            list.Add(new InputMessage(SourceKind.Tick, 0, offset++, "busy", Events.Tick("busy", 1_700_000_000_000 + t, 100 + (t % 700 / 100.0), 5)));
            if (t <= 1000 || t >= 15_000) list.Add(new InputMessage(SourceKind.Tick, 0, offset++, "idle", Events.Tick("idle", 1_700_000_000_000 + t, 50 + (t % 300 / 100.0), 5)));
        }

        return list;
    }

    private static int Stored(MemoryStateStore store, string key)
    {
        var buffer = new byte[64];
        var bytes = Encoding.UTF8.GetBytes(key);
        return store.Read(SourceKind.Tick, 0, bytes, bytes.Length, ref buffer);
    }

    [Fact]
    public async Task IdleKey_IsDeletedAtACheckpoint_AndStartsFreshWhenItReturns_WhateverTheCheckpoints()
    {
        var input = Input();
        // The idle key's first 11 events cover 0..1 s; its 12th is the comeback at 15 s.
        var comeback = input.Select((m, i) => (m, i)).Where(x => x.m.Key == "idle").Select(x => x.i).ElementAt(11);
        using var store = new MemoryStateStore();
        List<ForecastRow> withCheckpoints;
        await using (var run = new StateHarness(PipelineInvariantTests.Models(), Options(), store, keyTtl: Ttl))
        {
            await run.SendAsync(input.Take(comeback));
            await run.CheckpointAsync();
            Assert.True(Stored(store, "busy") > 0, "the busy key is stored");
            Assert.Equal(-1, Stored(store, "idle"));
            Assert.Equal(1, run.Pipeline.Workers[0].Engine(SourceKind.Tick)!.Resident);
            await run.SendAsync(input.Skip(comeback));
            await run.DrainAsync();
            var first = run.Output.Scores.First(s => s.Key == "idle" && s.Offset == input[comeback].Offset);
            Assert.False(first.Score.HasScore, "a returning expired key has no earlier forecast to be scored against");
            withCheckpoints = [.. run.Output.Rows];
        }

        // Without any checkpoint the key is not deleted, yet it starts fresh all the same: results do not depend on checkpoints.
        await using (var run = new StateHarness(PipelineInvariantTests.Models(), Options(), new MemoryStateStore(), keyTtl: Ttl))
        {
            await run.SendAsync(input);
            await run.DrainAsync();
            var expected = StateHarness.Dedup(run.Output.Rows, out _);
            var got = StateHarness.Dedup(withCheckpoints, out _);
            Assert.Equal(expected.Count, got.Count);
            foreach (var (id, row) in expected) StateHarness.AssertSame(row, got[id], id.ToString());
        }

        // And without a TTL the key carries on: its returning forecast differs from a fresh start.
        await using (var run = new StateHarness(PipelineInvariantTests.Models(), Options(), new MemoryStateStore()))
        {
            await run.SendAsync(input);
            await run.DrainAsync();
            var first = run.Output.Scores.First(s => s.Key == "idle" && s.Offset == input[comeback].Offset);
            Assert.True(first.Score.HasScore, "without a TTL the idle key keeps its state");
        }
    }
}
