namespace StreamLstm.Ingest.Generators;

/// <summary>The label a generator attaches to each event: what (if anything) was injected into it.</summary>
public enum AnomalyKind : byte
{
    /// <summary>Ordinary event.</summary>
    None = 0,

    /// <summary>Tick: this event carries a price jump (a return many standard deviations wide).</summary>
    PriceJump = 1,

    /// <summary>Tick: the symbol is in its high-volatility regime.</summary>
    VolatilityRegime = 2,

    /// <summary>Vitals: the patient is in a tachycardia episode (heart rate raised by 35-60 bpm).</summary>
    Tachycardia = 3,

    /// <summary>Vitals: the patient is in a desaturation episode (SpO2 pulled down to 80-88 %).</summary>
    Desaturation = 4,

    /// <summary>Audio: the first frames of a sound after silence (a change point, not a fault).</summary>
    Onset = 5,

    /// <summary>Audio: a broadband noise burst (flat, loud spectrum).</summary>
    NoiseBurst = 6,
}

/// <summary>Helpers for <see cref="AnomalyKind"/>.</summary>
public static class AnomalyKindNames
{
    /// <summary>Lower-case snake-case label, as written in the optional JSON <c>label</c> field.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The label, e.g. <c>price_jump</c>.</returns>
    public static string ToLabel(this AnomalyKind kind) => kind switch
    {
        AnomalyKind.None => "none",
        AnomalyKind.PriceJump => "price_jump",
        AnomalyKind.VolatilityRegime => "volatility_regime",
        AnomalyKind.Tachycardia => "tachycardia",
        AnomalyKind.Desaturation => "desaturation",
        AnomalyKind.Onset => "onset",
        AnomalyKind.NoiseBurst => "noise_burst",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>UTF-8 bytes of <see cref="ToLabel"/>, without allocation.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The label bytes.</returns>
    public static ReadOnlySpan<byte> ToLabelUtf8(this AnomalyKind kind) => kind switch
    {
        AnomalyKind.None => "none"u8,
        AnomalyKind.PriceJump => "price_jump"u8,
        AnomalyKind.VolatilityRegime => "volatility_regime"u8,
        AnomalyKind.Tachycardia => "tachycardia"u8,
        AnomalyKind.Desaturation => "desaturation"u8,
        AnomalyKind.Onset => "onset"u8,
        AnomalyKind.NoiseBurst => "noise_burst"u8,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
