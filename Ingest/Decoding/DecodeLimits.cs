namespace StreamLstm.Ingest.Decoding;

/// <summary>
/// Ranges every decoded value must lie in, chosen so that each later conversion is safe: feature extraction
/// (<c>Ingest/Features</c>: logs, ratios, squared deviations in the running variance), float forecasts in original units,
/// and the sink's timestamp conversion (<see cref="TimestampWindow"/>). A value outside its range is dead-lettered as
/// <see cref="DeadLetterReason.ImpossibleValue"/>; keys outside theirs as <see cref="DeadLetterReason.InvalidKey"/>.
/// </summary>
public static class DecodeLimits
{
    /// <summary>
    /// Smallest tick price (and bid/ask). With prices in [1e-12, 1e12] a log return ln(pₜ/pₜ₋₁) is at most ±56 and a
    /// ratio never under- or overflows (a denormal price would make it 0 or ∞, and the key's statistics NaN for good).
    /// </summary>
    public const double MinPrice = 1e-12;

    /// <summary>Largest tick price (and bid/ask): forecasts p·exp(Σr̂) stay far inside <see cref="float.MaxValue"/>.</summary>
    public const double MaxPrice = 1e12;

    /// <summary>Largest tick size. ln(1 + size) is finite for any finite size; this only rejects unit mix-ups (ns stamps, wei).</summary>
    public const double MaxSize = 1e15;

    /// <summary>
    /// Largest |coefficient| of an audio frame. MFCCs of real audio are within ±200 (silence c0 ≈ −117); the bound keeps
    /// squared deviations (≤ 4e12) and forecasts in original units (floats) finite.
    /// </summary>
    public const double MaxAudioCoefficient = 1e6;

    /// <summary>Largest |energy| (a log frame energy, |ln E| ≤ 745 for any double E).</summary>
    public const double MaxAudioEnergy = 1e6;

    /// <summary>Largest audio frame number: 2⁵³ − 1, the last integer a double holds exactly (so a later cast to long is exact).</summary>
    public const double MaxAudioFrame = 9_007_199_254_740_991;

    /// <summary>
    /// Longest key in UTF-8 bytes. Keys become strings (slot lookup), line-protocol tags and Kafka keys of forecasts;
    /// 256 bytes is far above any real symbol, patient or stream id and keeps the per-key lookup on the stack.
    /// </summary>
    public const int MaxKeyBytes = 256;

    /// <summary>
    /// Vitals ranges (inclusive), by raw-value index (<see cref="VitalsDecoder.FieldNames"/> order): heart rate 0..400 bpm,
    /// SpO2 0..100 %, respiratory rate and pressures 0..400, temperature 10..50 °C.
    /// </summary>
    internal static ReadOnlySpan<double> VitalsMin => [0, 0, 0, 0, 0, 0, 10];

    /// <summary>Upper ends of the vitals ranges (see <see cref="VitalsMin"/>).</summary>
    internal static ReadOnlySpan<double> VitalsMax => [400, 100, 400, 400, 400, 400, 50];

    /// <summary>True when <paramref name="v"/> lies in [<paramref name="min"/>, <paramref name="max"/>] (false for NaN).</summary>
    /// <param name="v">Value.</param>
    /// <param name="min">Lower end.</param>
    /// <param name="max">Upper end.</param>
    /// <returns>Whether it is in range.</returns>
    internal static bool InRange(double v, double min, double max) => v >= min && v <= max;
}
