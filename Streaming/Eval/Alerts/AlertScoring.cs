using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Eval.Alerts;

/// <summary>One labelled anomaly episode of one key: a maximal run of that key's consecutive events with the same label.</summary>
/// <param name="Source">Source kind.</param>
/// <param name="Key">Entity key.</param>
/// <param name="Label">The injected anomaly.</param>
/// <param name="StartMs">Event time of its first labelled event.</param>
/// <param name="EndMs">Event time of its last labelled event.</param>
public sealed record LabelledEpisode(SourceKind Source, string Key, AnomalyKind Label, long StartMs, long EndMs);

/// <summary>One raised alert, as the alert output reported it.</summary>
/// <param name="Source">Source kind.</param>
/// <param name="Key">Entity key.</param>
/// <param name="StartMs">Event time the score first crossed the enter threshold.</param>
/// <param name="RaisedMs">Event time of the row that raised it.</param>
public sealed record RaisedAlert(SourceKind Source, string Key, long StartMs, long RaisedMs);

/// <summary>Recall and delay of one anomaly label.</summary>
/// <param name="Label">The label.</param>
/// <param name="Episodes">Episodes with this label.</param>
/// <param name="Detected">Episodes matched by at least one alert.</param>
/// <param name="MedianDelayMs">Median, over detected episodes, of first matching alert's raise time − episode start (event time); NaN when none.</param>
public sealed record LabelQuality(AnomalyKind Label, int Episodes, int Detected, double MedianDelayMs)
{
    /// <summary>Detected / episodes (NaN when there are none).</summary>
    public double Recall => Episodes == 0 ? double.NaN : (double)Detected / Episodes;
}

/// <summary>Episode-level alert quality of one source kind.</summary>
/// <param name="Source">Source kind.</param>
/// <param name="Alerts">Raised alerts.</param>
/// <param name="TrueAlerts">Raised alerts that match a labelled episode.</param>
/// <param name="Episodes">Labelled episodes.</param>
/// <param name="Detected">Episodes matched by at least one alert.</param>
/// <param name="MedianDelayMs">Median detection delay over detected episodes (event time); NaN when none.</param>
/// <param name="KeyHours">Sum over keys of the event time between their first and last event, in hours.</param>
/// <param name="Labels">Recall and delay per label.</param>
public sealed record KindQuality(SourceKind Source, int Alerts, int TrueAlerts, int Episodes, int Detected, double MedianDelayMs, double KeyHours, IReadOnlyList<LabelQuality> Labels)
{
    /// <summary>True alerts / alerts (NaN without alerts).</summary>
    public double Precision => Alerts == 0 ? double.NaN : (double)TrueAlerts / Alerts;

    /// <summary>Detected / episodes (NaN without episodes).</summary>
    public double Recall => Episodes == 0 ? double.NaN : (double)Detected / Episodes;

    /// <summary>Alerts matching no episode.</summary>
    public int FalseAlerts => Alerts - TrueAlerts;

    /// <summary>False alerts per key-hour of event time (NaN without key time).</summary>
    public double FalseAlertsPerKeyHour => KeyHours > 0 ? FalseAlerts / KeyHours : double.NaN;
}

/// <summary>
/// Scores raised alerts against labelled episodes, per source kind. An alert matches an episode of the same key when the
/// alert's start (the event time its score first crossed the enter threshold) lies in
/// <c>[episode start, episode end + grace]</c>; the grace allows for the smoothing window, which carries a short episode's
/// surprise a few events past its end. An alert is true when it matches any episode (an alert spanning two close episodes
/// counts once); an episode is detected when any alert matches it, and its delay is that first alert's raise time minus the
/// episode start (event time, so it includes the alert's minimum duration).
/// </summary>
public static class AlertScoring
{
    /// <summary>Scores one source kind.</summary>
    /// <param name="source">The kind.</param>
    /// <param name="episodes">Its labelled episodes.</param>
    /// <param name="alerts">Its raised alerts.</param>
    /// <param name="graceMs">Event time after an episode's end during which an alert still matches it.</param>
    /// <param name="keyHours">Key-hours of event time the run covered for this kind.</param>
    /// <returns>The quality figures.</returns>
    public static KindQuality Score(SourceKind source, IReadOnlyList<LabelledEpisode> episodes, IReadOnlyList<RaisedAlert> alerts, long graceMs, double keyHours)
    {
        ArgumentNullException.ThrowIfNull(episodes);
        ArgumentNullException.ThrowIfNull(alerts);
        var byKey = episodes.Where(e => e.Source == source).GroupBy(e => e.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.OrderBy(e => e.StartMs).ToArray(), StringComparer.Ordinal);
        var firstRaise = new Dictionary<LabelledEpisode, long>(ReferenceEqualityComparer.Instance);
        var kindAlerts = alerts.Where(a => a.Source == source).OrderBy(a => a.RaisedMs).ToArray();
        var trueAlerts = 0;
        foreach (var a in kindAlerts)
        {
            var matched = false;
            if (byKey.TryGetValue(a.Key, out var list))
            {
                foreach (var e in list)
                {
                    if (e.StartMs > a.StartMs) break;
                    if (a.StartMs > e.EndMs + graceMs) continue;
                    matched = true;
                    firstRaise.TryAdd(e, a.RaisedMs);
                }
            }

            if (matched) trueAlerts++;
        }

        var mine = byKey.Values.SelectMany(e => e).ToArray();
        var labels = mine.GroupBy(e => e.Label).OrderBy(g => g.Key).Select(g => new LabelQuality(g.Key, g.Count(),
            g.Count(firstRaise.ContainsKey), Median(g.Where(firstRaise.ContainsKey).Select(e => (double)(firstRaise[e] - e.StartMs))))).ToArray();
        return new KindQuality(source, kindAlerts.Length, trueAlerts, mine.Length, firstRaise.Count,
            Median(firstRaise.Select(p => (double)(p.Value - p.Key.StartMs))), keyHours, labels);
    }

    /// <summary>Median of a set of numbers (mean of the middle two for an even count); NaN when empty.</summary>
    /// <param name="values">Values.</param>
    /// <returns>The median.</returns>
    public static double Median(IEnumerable<double> values)
    {
        var a = values.Order().ToArray();
        if (a.Length == 0) return double.NaN;
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[(a.Length / 2) - 1] + a[a.Length / 2]) / 2;
    }
}
