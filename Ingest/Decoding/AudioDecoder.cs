using System.Text.Json;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Decoding;

/// <summary>
/// Audio feature frame: <c>{"stream_id","ts","frame","coeffs":[C numbers], optional "energy"}</c>.
/// Raw values: <c>[c0 .. c(C-1), energy, frame]</c>. <c>coeffs</c> must have exactly C entries, each within
/// ±<see cref="DecodeLimits.MaxAudioCoefficient"/>; <c>energy</c> within ±<see cref="DecodeLimits.MaxAudioEnergy"/>;
/// <c>frame</c> an integer in 0..<see cref="DecodeLimits.MaxAudioFrame"/>.
/// </summary>
public sealed class AudioDecoder : EventDecoder
{
    private int _coeffsRead = -1;

    /// <summary>Creates a decoder for frames of <paramref name="coefficients"/> coefficients.</summary>
    /// <param name="coefficients">C (13 for MFCC).</param>
    /// <param name="window">Accepted event times (default <see cref="TimestampWindow.Default"/>).</param>
    /// <param name="time">The wall clock (default <see cref="TimeProvider.System"/>).</param>
    public AudioDecoder(int coefficients, TimestampWindow? window = null, TimeProvider? time = null)
        : base(window, time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(coefficients, 1);
        Coefficients = coefficients;
    }

    /// <summary>C, coefficients per frame.</summary>
    public int Coefficients { get; }

    /// <summary>Index of <c>energy</c> in the raw values.</summary>
    public int EnergyIndex => Coefficients;

    /// <summary>Index of <c>frame</c> in the raw values.</summary>
    public int FrameIndex => Coefficients + 1;

    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Audio;

    /// <inheritdoc />
    public override int ValueCount => Coefficients + 2;

    /// <inheritdoc />
    public override string IdField => "stream_id";

    /// <inheritdoc />
    protected override ReadOnlySpan<byte> IdFieldUtf8 => "stream_id"u8;

    /// <inheritdoc />
    protected override void BeginEvent() => _coeffsRead = -1;

    /// <inheritdoc />
    protected override DeadLetterReason ReadField(ref Utf8JsonReader reader, Span<double> values)
    {
        if (reader.ValueTextEquals("energy"u8))
        {
            reader.Read();
            var r = ReadNumber(ref reader, out values[EnergyIndex]);
            if (r == DeadLetterReason.None && !double.IsNaN(values[EnergyIndex]) && !DecodeLimits.InRange(values[EnergyIndex], -DecodeLimits.MaxAudioEnergy, DecodeLimits.MaxAudioEnergy))
            {
                return DeadLetterReason.ImpossibleValue;
            }

            return r;
        }

        if (reader.ValueTextEquals("frame"u8))
        {
            reader.Read();
            var r = ReadNumber(ref reader, out values[FrameIndex]);
            var frame = values[FrameIndex];
            if (r == DeadLetterReason.None && !double.IsNaN(frame) && (!DecodeLimits.InRange(frame, 0, DecodeLimits.MaxAudioFrame) || frame != Math.Floor(frame)))
            {
                return DeadLetterReason.ImpossibleValue;
            }

            return r;
        }

        if (!reader.ValueTextEquals("coeffs"u8))
        {
            return SkipValue(ref reader);
        }

        reader.Read();
        if (reader.TokenType == JsonTokenType.Null)
        {
            return DeadLetterReason.None;
        }

        if (reader.TokenType != JsonTokenType.StartArray)
        {
            if (reader.TokenType == JsonTokenType.StartObject) reader.Skip();
            return DeadLetterReason.WrongType;
        }

        var n = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (n >= Coefficients)
            {
                return DeadLetterReason.WrongLength;
            }

            var r = ReadNumber(ref reader, out values[n]);
            if (r != DeadLetterReason.None) return r;
            if (double.IsNaN(values[n])) return DeadLetterReason.WrongType; // null inside the vector
            if (!DecodeLimits.InRange(values[n], -DecodeLimits.MaxAudioCoefficient, DecodeLimits.MaxAudioCoefficient)) return DeadLetterReason.ImpossibleValue;
            n++;
        }

        _coeffsRead = n;
        return n == Coefficients ? DeadLetterReason.None : DeadLetterReason.WrongLength;
    }

    /// <inheritdoc />
    protected override DeadLetterReason Validate(Span<double> values) =>
        _coeffsRead < 0 || double.IsNaN(values[FrameIndex]) ? DeadLetterReason.MissingField : DeadLetterReason.None;
}
