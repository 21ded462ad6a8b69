using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Web.Live;

/// <summary>One forecast row of one key, copied out of the pipeline's batch for the dashboard.</summary>
/// <param name="Kind">Source kind.</param>
/// <param name="Key">Entity key.</param>
/// <param name="TimestampMs">Event time (Unix ms).</param>
/// <param name="Observed">Observed value.</param>
/// <param name="Mu">Forecast means for horizons 1..K.</param>
/// <param name="Sigma">Forecast standard deviations for horizons 1..K.</param>
/// <param name="Score">Smoothed anomaly score (surprise units), NaN before the key has one.</param>
/// <param name="PAnomaly">1 − two-sided tail probability of the observed value, NaN before the key has one.</param>
/// <param name="ModelVersion">Model that made the forecast.</param>
public sealed record KeyPoint(SourceKind Kind, string Key, long TimestampMs, double Observed, float[] Mu, float[] Sigma, double Score, double PAnomaly, string ModelVersion);

/// <summary>A key in the directory, for search results.</summary>
/// <param name="Key">Key.</param>
/// <param name="Events">Forecasts seen for it.</param>
/// <param name="LastTimestampMs">Event time of its latest forecast.</param>
/// <param name="Score">Its latest smoothed anomaly score (NaN before it has one).</param>
/// <param name="AlertOpen">Whether it has an open alert.</param>
public sealed record KeySummary(string Key, long Events, long LastTimestampMs, double Score, bool AlertOpen);
