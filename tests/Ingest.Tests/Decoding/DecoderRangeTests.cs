using System.Text;
using Microsoft.Extensions.Time.Testing;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Tests.Decoding;

/// <summary>Range checks at decode time: the event-time window and every value later code converts.</summary>
public class DecoderRangeTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly long NowMs = Now.ToUnixTimeMilliseconds();
    private const long DayMs = 86_400_000;

    private static DeadLetterReason Reason(SourceKind kind, string json, TimeProvider? time = null, TimestampWindow? window = null) =>
        Decode(kind, json, time, window).Reason;

    private static (DeadLetterReason Reason, long Ts) Decode(SourceKind kind, string json, TimeProvider? time = null, TimestampWindow? window = null)
    {
        var d = EventDecoder.For(kind, 13, window, time ?? new FakeTimeProvider(Now));
        var r = d.Decode(Encoding.UTF8.GetBytes(json), new double[d.ValueCount], out var ts, out _);
        return (r, ts);
    }

    private static string Tick(string ts, string price = "1", string size = "1", string extra = "") =>
        $$"""{"symbol":"A","ts":{{ts}},"price":{{price}},"size":{{size}}{{extra}}}""";

    private static string Audio(string coeff0 = "1", string frame = "1", string extra = "") =>
        $$"""{"stream_id":"s","ts":1,"frame":{{frame}},"coeffs":[{{coeff0}},2,3,4,5,6,7,8,9,10,11,12,13]{{extra}}}""";

    [Fact]
    public void FarFutureTimestamp_FromTheIssue_IsOutOfRange()
    {
        // Accepted as valid before: it later overflowed the sink's ms → ns conversion and killed a worker.
        Assert.Equal(DeadLetterReason.TimestampOutOfRange, Reason(SourceKind.Tick, Tick("99999999999999999")));
        Assert.Equal(DeadLetterReason.TimestampOutOfRange, Reason(SourceKind.Vitals, """{"patient_id":"p","ts":99999999999999999,"hr":70}"""));
        Assert.Equal(DeadLetterReason.TimestampOutOfRange, Reason(SourceKind.Audio, Audio().Replace("\"ts\":1", "\"ts\":99999999999999999", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData("9223372036854775807")]      // long.MaxValue
    [InlineData("9223372036854775808")]      // just past it: not an Int64, read as a double
    [InlineData("1e300")]
    [InlineData("4102444800000.5")]          // 2100, fractional
    [InlineData("\"9999-12-31T23:59:59Z\"")]
    [InlineData("-1")]
    [InlineData("-9223372036854775808")]     // long.MinValue (also the decoder's "absent" marker)
    [InlineData("-0.5")]                     // floors to -1
    [InlineData("\"1969-12-31T23:59:59.999Z\"")]
    public void TimestampOutsideDefaultWindow_IsOutOfRange(string ts) =>
        Assert.Equal(DeadLetterReason.TimestampOutOfRange, Reason(SourceKind.Tick, Tick(ts)));

    [Fact]
    public void DefaultWindow_RunsFromTheEpochToOneDayAheadOfTheInjectedClock()
    {
        Assert.Equal((DeadLetterReason.None, 0L), Decode(SourceKind.Tick, Tick("0")));
        Assert.Equal((DeadLetterReason.None, 0L), Decode(SourceKind.Tick, Tick("-0")));
        Assert.Equal(DeadLetterReason.None, Reason(SourceKind.Tick, Tick("631400400000")));            // 1990-01-02, market-daily replay
        Assert.Equal(DeadLetterReason.None, Reason(SourceKind.Tick, Tick("\"1989-12-29T21:00:00Z\"")));
        Assert.Equal(DeadLetterReason.None, Reason(SourceKind.Tick, Tick((NowMs + DayMs).ToString())));
        Assert.Equal(DeadLetterReason.TimestampOutOfRange, Reason(SourceKind.Tick, Tick((NowMs + DayMs + 1).ToString())));
    }

    [Fact]
    public void WindowEnd_FollowsTheClock_AlsoAfterTheDecoderCachedIt()
    {
        var clock = new FakeTimeProvider(Now);
        var d = new TickDecoder(time: clock);
        var raw = new double[d.ValueCount];
        var later = NowMs + 2 * DayMs;
        Assert.Equal(DeadLetterReason.None, d.Decode(Encoding.UTF8.GetBytes(Tick(NowMs.ToString())), raw, out _, out _));
        Assert.Equal(DeadLetterReason.TimestampOutOfRange, d.Decode(Encoding.UTF8.GetBytes(Tick(later.ToString())), raw, out _, out _));
        clock.Advance(TimeSpan.FromDays(1));
        Assert.Equal(DeadLetterReason.None, d.Decode(Encoding.UTF8.GetBytes(Tick(later.ToString())), raw, out var ts, out _));
        Assert.Equal(later, ts);
    }

    [Fact]
    public void ConfiguredWindow_IsApplied()
    {
        var window = new TimestampWindow(new DateTimeOffset(1900, 1, 1, 0, 0, 0, TimeSpan.Zero), TimeSpan.FromHours(1));
        Assert.Equal(DeadLetterReason.None, Reason(SourceKind.Tick, Tick("\"1950-06-01T00:00:00Z\""), window: window));
        Assert.Equal(DeadLetterReason.None, Reason(SourceKind.Tick, Tick("-631152000000"), window: window)); // 1950
        Assert.Equal(DeadLetterReason.TimestampOutOfRange, Reason(SourceKind.Tick, Tick("\"1899-12-31T23:59:59Z\""), window: window));
        Assert.Equal(DeadLetterReason.TimestampOutOfRange, Reason(SourceKind.Tick, Tick((NowMs + 3_600_001).ToString()), window: window));
    }

    [Fact]
    public void WidestWindow_StillEndsWhereNanosecondsFitALong()
    {
        var window = new TimestampWindow(TimestampWindow.EarliestSupported, TimestampWindow.MaxAheadLimit);
        var farClock = new FakeTimeProvider(new DateTimeOffset(2250, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var latest = window.LatestMs(farClock.GetUtcNow());
        Assert.Equal(TimestampWindow.LatestSupportedMs, latest);
        Assert.Equal(DeadLetterReason.TimestampOutOfRange, Reason(SourceKind.Tick, Tick((latest + 1).ToString()), farClock, window));
        Assert.Equal(DeadLetterReason.None, Reason(SourceKind.Tick, Tick(latest.ToString()), farClock, window));
        Assert.Equal(DeadLetterReason.None, Reason(SourceKind.Tick, Tick(TimestampWindow.EarliestSupportedMs.ToString()), farClock, window));
        // The sink writes ms · 10⁶ + a sub-millisecond part (< 10⁶) with checked arithmetic: both ends must fit.
        _ = checked((latest * 1_000_000L) + 999_999);
        _ = checked(TimestampWindow.EarliestSupportedMs * 1_000_000L);
    }

    [Theory]
    [InlineData("1e-13")]
    [InlineData("5e-324")]     // denormal: ln(p/prev) would be -inf
    [InlineData("1.000001e12")]
    [InlineData("1e308")]
    [InlineData("-0")]
    public void TickPriceOutsideLimits_IsImpossible(string price) =>
        Assert.Equal(DeadLetterReason.ImpossibleValue, Reason(SourceKind.Tick, Tick(NowMs.ToString(), price: price)));

    [Theory]
    [InlineData("""{"symbol":"A","ts":1,"price":1,"size":1e16}""")]
    [InlineData("""{"symbol":"A","ts":1,"price":1,"size":-1e-300}""")]
    [InlineData("""{"symbol":"A","ts":1,"price":1,"size":1,"bid":5e-324}""")]
    [InlineData("""{"symbol":"A","ts":1,"price":1,"size":1,"ask":1e300}""")]
    [InlineData("""{"symbol":"A","ts":1,"price":1,"size":1,"bid":-0}""")]
    public void TickSizeBidAskOutsideLimits_AreImpossible(string json) =>
        Assert.Equal(DeadLetterReason.ImpossibleValue, Reason(SourceKind.Tick, json));

    [Theory]
    [InlineData("1e-12")]
    [InlineData("1e12")]
    [InlineData("0.124684")]
    public void TickPriceAtOrInsideLimits_IsAccepted(string price) =>
        Assert.Equal(DeadLetterReason.None, Reason(SourceKind.Tick, Tick("1", price: price, size: "1e15", extra: $",\"bid\":{price},\"ask\":{price}")));

    [Theory]
    [InlineData("\"hr\":400.0001")]
    [InlineData("\"spo2\":-1e-300")]
    [InlineData("\"resp_rate\":1e308")]
    [InlineData("\"sbp\":401")]
    [InlineData("\"dbp\":-0.1")]
    [InlineData("\"map\":1e300")]
    [InlineData("\"temp\":9.99")]
    [InlineData("\"temp\":50.01")]
    public void VitalOutsideItsRange_IsImpossible(string field) =>
        Assert.Equal(DeadLetterReason.ImpossibleValue, Reason(SourceKind.Vitals, $$"""{"patient_id":"p","ts":1,{{field}}}"""));

    [Theory]
    [InlineData("1.000001e6")]
    [InlineData("-1e300")]
    public void AudioCoefficientOutsideLimit_IsImpossible(string c0) =>
        Assert.Equal(DeadLetterReason.ImpossibleValue, Reason(SourceKind.Audio, Audio(coeff0: c0)));

    [Theory]
    [InlineData(",\"energy\":1e300")]
    [InlineData(",\"energy\":-1.5e6")]
    public void AudioEnergyOutsideLimit_IsImpossible(string extra) =>
        Assert.Equal(DeadLetterReason.ImpossibleValue, Reason(SourceKind.Audio, Audio(extra: extra)));

    [Theory]
    [InlineData("9007199254740992")]   // 2^53: not exactly representable beyond
    [InlineData("1e300")]
    [InlineData("1.5")]
    [InlineData("-1")]
    public void AudioFrameOutsideLimit_IsImpossible(string frame) =>
        Assert.Equal(DeadLetterReason.ImpossibleValue, Reason(SourceKind.Audio, Audio(frame: frame)));

    [Fact]
    public void AudioAtItsLimits_IsAccepted() =>
        Assert.Equal(DeadLetterReason.None, Reason(SourceKind.Audio, Audio(coeff0: "-1e6", frame: "9007199254740991", extra: ",\"energy\":-1e6")));
}
