using System.CommandLine;
using System.Text.Json;
using StreamLstm.Streaming.Bench;

namespace StreamLstm.Streaming.Tests.State;

/// <summary><c>bench state</c> at a small scale (a cap well above one micro-batch, so keys hibernate): the figures issue 8 item 9 asks for, with the honest-measurement fields.</summary>
public class StateBenchTests
{
    [Fact]
    public async Task BenchState_WritesEveryFigure_WithOneOverheadPerRound_AndCheckpointTimes()
    {
        var dir = Directory.CreateTempSubdirectory("streamlstm-statebench-test-");
        try
        {
            var output = Path.Combine(dir.FullName, "state.json");
            var root = new RootCommand { StateBench.Create() };
            var rc = await root.Parse(["state", "--keys", "20000", "--resident", "5000", "--events", "80000", "--rounds", "2", "--interval", "00:00:00.005",
                "--dir", Path.Combine(dir.FullName, "db"), "--out", output]).InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(0, rc);
            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(output, TestContext.Current.CancellationToken));
            var r = doc.RootElement;
            foreach (var name in new[] { "bytes_per_resident_key", "events_per_s", "checkpoint_overhead_pct", "checkpoint_bytes_per_interval",
                "restart_to_first_forecast_s", "gc_pause_p99_ms", "peak_rss_bytes", "alloc_bytes_per_event", "gc_pause_max_ms", "gc_latency_mode" })
            {
                Assert.True(r.TryGetProperty(name, out _), $"state.json lacks {name}");
            }

            // One overhead per round, the reported figure their median (two rounds: the mean of the two).
            var rounds = r.GetProperty("checkpoint_overhead_rounds_pct").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(2, rounds.Length);
            Assert.Equal(Math.Round((rounds[0] + rounds[1]) / 2, 2), r.GetProperty("checkpoint_overhead_pct").GetDouble(), 1);
            // Checkpoints were taken during the measured phases, and the store write was timed.
            Assert.True(r.GetProperty("checkpoint_write_ms").GetDouble() > 0, "no checkpoint write timed in the overhead rounds");
            Assert.True(r.GetProperty("restored").GetInt64() > 0, "the capped run restored no hibernated key");
            Assert.True(r.GetProperty("gc_pauses").GetInt32() >= 0);
        }
        finally
        {
            dir.Delete(true);
        }
    }
}
