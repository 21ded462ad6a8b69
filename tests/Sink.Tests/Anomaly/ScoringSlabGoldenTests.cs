using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.Extensions.Time.Testing;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;

namespace StreamLstm.Sink.Tests.Anomaly;

/// <summary>
/// Scores, alerts and exported state stay the same bits across changes to how <see cref="ScoringSlab"/> keeps its state
/// (the per-slot layout, the smoothing window's walk): a fingerprint of every output of a fixed run, recorded with the
/// previous layout (one array per field, an index modulo the window per value), must not move.
/// </summary>
public class ScoringSlabGoldenTests
{
    [Theory]
    [InlineData(1, 17032394895633816144UL)]
    [InlineData(4, 3424705648069570367UL)]
    [InlineData(5, 5446909937994636677UL)]
    [InlineData(7, 9505804994940181008UL)]
    public void ManyKeysInterleaved_GiveTheRecordedBits(int window, ulong expected)
    {
        Assert.Equal(expected, Fingerprint(window));
    }

    /// <summary>
    /// 40 keys over 64 slots, 6,000 rows in a scattered order with alerts raised, updated and resolved, NaN and late rows,
    /// hibernation (export, reset, import) mid-stream; every score's fields, every alert and every exported state hashed.
    /// </summary>
    internal static ulong Fingerprint(int window)
    {
        var options = new AnomalyOptions
        {
            Window = window,
            WarmupEvents = 3,
            Default = new SourceCalibration { EnterThreshold = 2, ExitThreshold = 1, CriticalThreshold = 5, MinDuration = TimeSpan.FromSeconds(2), Cooldown = TimeSpan.FromSeconds(5) },
        };
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var slab = new ScoringSlab(SourceKind.Tick, options, clock, 8);
        slab.EnsureCapacity(64);
        var hash = new XxHash64();
        var alerts = new List<AlertEvent>();
        var state = new byte[slab.StateBytes];
        Span<byte> buf = stackalloc byte[8];
        var rng = new Random(window * 7919);
        var ts = new long[40];
        for (var i = 0; i < 6000; i++)
        {
            var key = (int)((uint)(i * 31) % 40);
            var slot = (key * 13) % 64;
            // Mostly forward in time; now and then a repeat or an older row (neither scored nor kept).
            var step = rng.Next(10) == 0 ? -rng.Next(2000) : rng.Next(200, 1500);
            ts[key] += step;
            var burst = (i / 97) % 5 == 0;
            var observed = i % 211 == 0 ? double.NaN : Math.Sin(i * 0.37) * (burst ? 12 : 1) + (rng.NextDouble() - 0.5);
            var mu = Math.Cos(i * 0.11);
            var sigma = i % 509 == 0 ? 0 : 0.3 + rng.NextDouble();
            var score = slab.Score(slot, "k" + key, ts[key], observed, mu, sigma, "v1", alerts);
            Add(hash, buf, score.HasScore ? 1 : 0);
            Add(hash, buf, score.Nll);
            Add(hash, buf, score.TailP);
            Add(hash, buf, score.Score);
            Add(hash, buf, score.PAnomaly);
            if (i % 53 == 0)
            {
                slab.Export(slot, state);
                hash.Append(state);
                // Hibernate and restore into the same slot.
                slab.Reset(slot);
                Assert.True(slab.TryImport(slot, state));
            }
        }

        foreach (var a in alerts)
        {
            hash.Append(System.Text.Encoding.UTF8.GetBytes(a.AlertId));
            Add(hash, buf, (long)a.Kind);
            Add(hash, buf, (long)a.Severity);
            Add(hash, buf, a.StartMs);
            Add(hash, buf, a.EventMs);
            Add(hash, buf, a.PeakScore);
            Add(hash, buf, a.Score);
            Add(hash, buf, a.Observed);
            Add(hash, buf, a.ForecastMu);
            Add(hash, buf, a.ForecastSigma);
            Add(hash, buf, a.ForecastMadeAtMs);
        }

        // The run must reach every path whose bits it pins: alerts opened, escalated and resolved, rows left unscored.
        Assert.Contains(alerts, a => a.Kind == AlertEventKind.Raised);
        Assert.Contains(alerts, a => a.Kind == AlertEventKind.Resolved);
        Assert.True(slab.NonFiniteRows > 0);
        Add(hash, buf, alerts.Count);
        Add(hash, buf, slab.NonFiniteRows);
        for (var s = 0; s < 64; s++)
        {
            slab.Export(s, state);
            hash.Append(state);
        }

        return hash.GetCurrentHashAsUInt64();
    }

    private static void Add(XxHash64 hash, Span<byte> buf, long v)
    {
        BinaryPrimitives.WriteInt64LittleEndian(buf, v);
        hash.Append(buf);
    }

    private static void Add(XxHash64 hash, Span<byte> buf, double v)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(buf, v);
        hash.Append(buf);
    }
}
