using System.Text.Json;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Decoding;

/// <summary>
/// Patient vital signs: <c>{"patient_id","ts", any of "hr","spo2","resp_rate","sbp","dbp","map","temp"}</c>.
/// Missing values are normal (NaN in the raw values), but at least one must be present.
/// Impossible: hr &lt; 0 or &gt; 400, SpO2 outside 0..100, rates or pressures outside 0..400, temp outside 10..50 °C.
/// </summary>
public sealed class VitalsDecoder : EventDecoder
{
    /// <summary>Creates a vitals decoder.</summary>
    /// <param name="window">Accepted event times (default <see cref="TimestampWindow.Default"/>).</param>
    /// <param name="time">The wall clock (default <see cref="TimeProvider.System"/>).</param>
    public VitalsDecoder(TimestampWindow? window = null, TimeProvider? time = null)
        : base(window, time)
    {
    }

    /// <summary>Field names in raw-value order.</summary>
    public static readonly string[] FieldNames = ["hr", "spo2", "resp_rate", "sbp", "dbp", "map", "temp"];

    /// <summary>Index of heart rate.</summary>
    public const int HeartRate = 0;

    /// <summary>Index of SpO2.</summary>
    public const int SpO2 = 1;

    /// <summary>Index of temperature.</summary>
    public const int Temperature = 6;

    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Vitals;

    /// <inheritdoc />
    public override int ValueCount => 7;

    /// <inheritdoc />
    public override string IdField => "patient_id";

    /// <inheritdoc />
    protected override ReadOnlySpan<byte> IdFieldUtf8 => "patient_id"u8;

    /// <inheritdoc />
    protected override DeadLetterReason ReadField(ref Utf8JsonReader reader, Span<double> values)
    {
        int index;
        if (reader.ValueTextEquals("hr"u8)) index = 0;
        else if (reader.ValueTextEquals("spo2"u8)) index = 1;
        else if (reader.ValueTextEquals("resp_rate"u8)) index = 2;
        else if (reader.ValueTextEquals("sbp"u8)) index = 3;
        else if (reader.ValueTextEquals("dbp"u8)) index = 4;
        else if (reader.ValueTextEquals("map"u8)) index = 5;
        else if (reader.ValueTextEquals("temp"u8)) index = 6;
        else return SkipValue(ref reader);
        reader.Read();
        return ReadNumber(ref reader, out values[index]);
    }

    /// <inheritdoc />
    protected override bool HasFastPath => true;

    /// <inheritdoc />
    protected override int FastFieldIndex(ReadOnlySpan<byte> name) => name.Length switch
    {
        2 when name.SequenceEqual("hr"u8) => 0,
        4 when name.SequenceEqual("spo2"u8) => 1,
        9 when name.SequenceEqual("resp_rate"u8) => 2,
        3 when name.SequenceEqual("sbp"u8) => 3,
        3 when name.SequenceEqual("dbp"u8) => 4,
        3 when name.SequenceEqual("map"u8) => 5,
        4 when name.SequenceEqual("temp"u8) => 6,
        _ => -1,
    };

    /// <inheritdoc />
    protected override DeadLetterReason Validate(Span<double> values)
    {
        var present = 0;
        var min = DecodeLimits.VitalsMin;
        var max = DecodeLimits.VitalsMax;
        for (var i = 0; i < 7; i++)
        {
            if (double.IsNaN(values[i])) continue;
            present++;
            if (!DecodeLimits.InRange(values[i], min[i], max[i])) return DeadLetterReason.ImpossibleValue;
        }

        return present == 0 ? DeadLetterReason.MissingField : DeadLetterReason.None;
    }
}
