using StreamLstm.Ingest.Decoding;
using StreamLstm.Ingest.Tests.Decoding.Fuzz;

namespace StreamLstm.Ingest.Tests.Decoding;

/// <summary>Runs the default fuzz once for the class (deterministic: fixed seed and clock).</summary>
public sealed class DecoderFuzzFixture
{
    /// <summary>The run.</summary>
    public FuzzRun Run { get; } = FuzzRun.Execute(FuzzRun.CasesFromEnvironment(), FuzzRun.SeedFromEnvironment());
}

/// <summary>
/// Property-based fuzz of every decoder (CsCheck generators): each message is either accepted with an in-range timestamp
/// and finite features (through the real feature extraction), or rejected with a reason; nothing throws.
/// </summary>
public class DecoderFuzzTests(DecoderFuzzFixture fuzz, ITestOutputHelper output) : IClassFixture<DecoderFuzzFixture>
{
    [Fact]
    public void EveryCase_IsAcceptedSoundly_OrDeadLetteredWithAReason_AndNothingThrows()
    {
        var run = fuzz.Run;
        Assert.Equal(FuzzRun.CasesFromEnvironment(), run.ByOutcome.Values.Sum(n => n.Sum()));
        Assert.True(run.FailureCount == 0, $"{run.FailureCount} of {run.Cases} cases broke the property:\n" + string.Join("\n", run.Failures));
    }

    [Fact]
    public void Outcomes_ByReason_AreReported_AndReachEveryDecodeReason()
    {
        var run = fuzz.Run;
        output.WriteLine(run.Table());
        var path = Path.Combine(FuzzRun.RepositoryRoot(), "artifacts", "fuzz", "decoders.json");
        run.WriteJson(path);
        output.WriteLine($"written: {path}");
        Assert.True(File.Exists(path));

        // The generators reach every reason a decoder can give (oversized, unknown_topic and decoder_error are the worker's), and
        // plenty of both accepted and late events, so the property was exercised on both sides.
        var decodeReasons = Enum.GetValues<DeadLetterReason>()
            .Where(r => r is not (DeadLetterReason.None or DeadLetterReason.Oversized or DeadLetterReason.UnknownTopic or DeadLetterReason.DecoderError))
            .Select(r => r.ToWireName());
        Assert.All(decodeReasons, r => Assert.True(run.ByOutcome.ContainsKey(r), $"no case ended as {r}"));
        Assert.True(run.ByOutcome[PipelineMirror.Accepted].Sum() > run.Cases / 10, "too few accepted cases to exercise the features");
        Assert.All(run.ByOutcome[PipelineMirror.Accepted], perKind => Assert.True(perKind > 0));
        Assert.Equal(13, run.ByStrategy.Count);
    }

    [Fact]
    public void SameSeed_GivesTheSameOutcomes()
    {
        var a = FuzzRun.Execute(2_000, FuzzRun.DefaultSeed);
        var b = FuzzRun.Execute(2_000, FuzzRun.DefaultSeed);
        Assert.Equal(a.ByOutcome.Select(o => (o.Key, string.Join(",", o.Value))), b.ByOutcome.Select(o => (o.Key, string.Join(",", o.Value))));
    }
}
