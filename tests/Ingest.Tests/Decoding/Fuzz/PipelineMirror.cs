using System.Text;
using Microsoft.Extensions.Time.Testing;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Ingest.Features;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Decoding.Fuzz;

/// <summary>A property of the decoders was broken by a fuzz case.</summary>
/// <param name="message">What was broken.</param>
public sealed class FuzzPropertyException(string message) : Exception(message);

/// <summary>
/// Runs fuzz cases the way a pipeline worker does: decode with the Kafka key, and for an accepted event find the key's
/// slot, send it to "late" when older than the key's last event, else extract its features with the real
/// <see cref="FeatureExtractor"/>. Checks the property: an accepted event has an in-range timestamp (one the sink's
/// ms → ns conversion takes), a valid key, finite features, finite per-key statistics and a finite one-step forecast at
/// the model's neutral output; a rejected one has a reason other than <see cref="DeadLetterReason.None"/>.
/// Feature state carries over between cases, so a value that poisons a key's statistics is caught on a later event too.
/// </summary>
public sealed class PipelineMirror
{
    /// <summary>Outcome name of an accepted event whose features were extracted.</summary>
    public const string Accepted = "accepted";

    /// <summary>Outcome name of an accepted event older than its key's last (the pipeline's late topic).</summary>
    public const string AcceptedLate = "accepted_late";

    private readonly FakeTimeProvider _clock = new(FuzzMessages.Now);
    private readonly EventDecoder[] _decoders;
    private readonly FeatureExtractor[] _features;
    private readonly Dictionary<string, int>[] _slots = [[], [], []];
    private readonly double[][] _raw;
    private readonly float[][] _x;
    private readonly float[] _mu = new float[1];
    private readonly float[] _sigma = new float[1];

    /// <summary>Creates the decoders (default window, fixed clock) and feature extractors (default α).</summary>
    public PipelineMirror()
    {
        _decoders = [.. new[] { SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio }.Select(k => EventDecoder.For(k, 13, null, _clock))];
        _features = [.. new[] { SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio }.Select(k => FeatureExtractor.For(k))];
        _raw = [.. _decoders.Select(d => new double[d.ValueCount])];
        _x = [.. _features.Select(f => new float[f.FeatureCount])];
    }

    /// <summary>Runs one case; throws <see cref="FuzzPropertyException"/> when the property fails.</summary>
    /// <param name="c">The case.</param>
    /// <returns>The outcome: a reason's wire name, <see cref="Accepted"/> or <see cref="AcceptedLate"/>.</returns>
    public string Run(FuzzCase c)
    {
        var k = (int)c.Kind;
        var decoder = _decoders[k];
        var raw = _raw[k];
        var reason = decoder.Decode(c.Value, c.Key, raw, out var ts, out var key);
        if (reason != DeadLetterReason.None)
        {
            if (!Enum.IsDefined(reason)) throw new FuzzPropertyException($"undefined reason {(int)reason}");
            return reason.ToWireName();
        }

        var latest = decoder.Window.LatestMs(_clock.GetUtcNow());
        if (ts < decoder.Window.EarliestMs || ts > latest) throw new FuzzPropertyException($"accepted ts {ts} outside [{decoder.Window.EarliestMs}, {latest}]");
        try
        {
            // What the sink does with it: ms · 10⁶ plus a sub-millisecond part, checked.
            _ = checked((ts * 1_000_000L) + 999_999);
        }
        catch (OverflowException)
        {
            throw new FuzzPropertyException($"accepted ts {ts} overflows the sink's nanosecond conversion");
        }

        if (!EventDecoder.IsValidKey(key)) throw new FuzzPropertyException("accepted an invalid key");
        var name = Encoding.UTF8.GetString(key);
        var features = _features[k];
        if (!_slots[k].TryGetValue(name, out var slot))
        {
            slot = _slots[k].Count;
            features.EnsureCapacity(slot + 1);
            features.Reset(slot);
            _slots[k][name] = slot;
        }

        if (ts < features.LastTimestamp(slot)) return AcceptedLate;
        var x = _x[k];
        var observed = features.Extract(slot, raw, ts, x);
        for (var i = 0; i < x.Length; i++)
        {
            if (!float.IsFinite(x[i])) throw new FuzzPropertyException($"feature {features.FeatureNames[i]} = {x[i]}");
        }

        for (var s = 0; s < features.StatCount; s++)
        {
            var mean = features.Mean(slot, s);
            var variance = features.Variance(slot, s);
            var std = features.Std(slot, s);
            if (!double.IsFinite(mean) || !double.IsFinite(variance) || !double.IsFinite(std) || !(std > 0))
            {
                throw new FuzzPropertyException($"statistic {s} of key '{name}': mean {mean}, variance {variance}, std {std}");
            }
        }

        if (!double.IsFinite(observed) && !(c.Kind == SourceKind.Vitals && double.IsNaN(observed)))
        {
            throw new FuzzPropertyException($"observed value {observed}");
        }

        // The forecast in original units at the model's neutral output (μ = 0, log σ = 0), one step ahead, as a float.
        features.Denormalise(slot, [0f], [0f], _mu, _sigma);
        if (!float.IsFinite(_mu[0]) || !float.IsFinite(_sigma[0])) throw new FuzzPropertyException($"neutral forecast μ {_mu[0]}, σ {_sigma[0]}");
        return Accepted;
    }
}
