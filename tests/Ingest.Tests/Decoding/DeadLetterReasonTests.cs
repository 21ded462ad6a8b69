using System.Text.RegularExpressions;
using StreamLstm.Ingest.Decoding;

namespace StreamLstm.Ingest.Tests.Decoding;

public partial class DeadLetterReasonTests
{
    [Fact]
    public void Count_CoversEveryReason_SoCounterArraysIndexedByReasonFit()
    {
        var values = Enum.GetValues<DeadLetterReason>();
        Assert.Equal(DeadLetterReasonNames.Count, values.Length);
        Assert.Equal(Enumerable.Range(0, values.Length), values.Select(v => (int)v));
    }

    [Fact]
    public void EveryReason_HasAUniqueSnakeCaseWireName()
    {
        var names = Enum.GetValues<DeadLetterReason>().Select(r => r.ToWireName()).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, n => Assert.Matches(SnakeCase(), n));
    }

    [Theory]
    [InlineData(DeadLetterReason.TimestampOutOfRange, "timestamp_out_of_range")]
    [InlineData(DeadLetterReason.KeyMismatch, "key_mismatch")]
    [InlineData(DeadLetterReason.InvalidKey, "invalid_key")]
    public void NewReasons_HaveTheirWireNames(DeadLetterReason reason, string name) => Assert.Equal(name, reason.ToWireName());

    [GeneratedRegex("^[a-z]+(_[a-z]+)*$")]
    private static partial Regex SnakeCase();
}
