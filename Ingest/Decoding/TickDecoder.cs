using System.Text.Json;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Decoding;

/// <summary>
/// Market tick: <c>{"symbol","ts","price","size", optional "bid","ask"}</c>.
/// Raw values: <c>[price, size, bid, ask]</c>. Impossible: price (and bid/ask when present) outside
/// [<see cref="DecodeLimits.MinPrice"/>, <see cref="DecodeLimits.MaxPrice"/>], size outside 0..<see cref="DecodeLimits.MaxSize"/>.
/// </summary>
public sealed class TickDecoder : EventDecoder
{
    /// <summary>Creates a tick decoder.</summary>
    /// <param name="window">Accepted event times (default <see cref="TimestampWindow.Default"/>).</param>
    /// <param name="time">The wall clock (default <see cref="TimeProvider.System"/>).</param>
    public TickDecoder(TimestampWindow? window = null, TimeProvider? time = null)
        : base(window, time)
    {
    }

    /// <summary>Index of <c>price</c> in the raw values.</summary>
    public const int Price = 0;

    /// <summary>Index of <c>size</c>.</summary>
    public const int Size = 1;

    /// <summary>Index of <c>bid</c>.</summary>
    public const int Bid = 2;

    /// <summary>Index of <c>ask</c>.</summary>
    public const int Ask = 3;

    /// <inheritdoc />
    public override SourceKind Kind => SourceKind.Tick;

    /// <inheritdoc />
    public override int ValueCount => 4;

    /// <inheritdoc />
    public override string IdField => "symbol";

    /// <inheritdoc />
    protected override ReadOnlySpan<byte> IdFieldUtf8 => "symbol"u8;

    /// <inheritdoc />
    protected override DeadLetterReason ReadField(ref Utf8JsonReader reader, Span<double> values)
    {
        int index;
        if (reader.ValueTextEquals("price"u8)) index = Price;
        else if (reader.ValueTextEquals("size"u8)) index = Size;
        else if (reader.ValueTextEquals("bid"u8)) index = Bid;
        else if (reader.ValueTextEquals("ask"u8)) index = Ask;
        else return SkipValue(ref reader);
        reader.Read();
        return ReadNumber(ref reader, out values[index]);
    }

    /// <inheritdoc />
    protected override bool HasFastPath => true;

    /// <inheritdoc />
    protected override int FastFieldIndex(ReadOnlySpan<byte> name) =>
        name.SequenceEqual("price"u8) ? Price : name.SequenceEqual("size"u8) ? Size : name.SequenceEqual("bid"u8) ? Bid : name.SequenceEqual("ask"u8) ? Ask : -1;

    /// <inheritdoc />
    protected override DeadLetterReason Validate(Span<double> values)
    {
        if (double.IsNaN(values[Price]) || double.IsNaN(values[Size])) return DeadLetterReason.MissingField;
        if (!IsPrice(values[Price]) || !DecodeLimits.InRange(values[Size], 0, DecodeLimits.MaxSize)) return DeadLetterReason.ImpossibleValue;
        if (!double.IsNaN(values[Bid]) && !IsPrice(values[Bid])) return DeadLetterReason.ImpossibleValue;
        if (!double.IsNaN(values[Ask]) && !IsPrice(values[Ask])) return DeadLetterReason.ImpossibleValue;
        return DeadLetterReason.None;
    }

    private static bool IsPrice(double v) => DecodeLimits.InRange(v, DecodeLimits.MinPrice, DecodeLimits.MaxPrice);
}
