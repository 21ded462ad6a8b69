using StreamLstm.Streaming.Eval;

namespace StreamLstm.Streaming.Tests.Eval;

/// <summary>The NAB evaluation on one real realKnownCause file (skipped when ../shared/data is absent).</summary>
public class NabEvalRealDataTests
{
    private const string File = "ec2_request_latency_system_failure.csv";

    private static string? FindDataDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "data");
            if (Directory.Exists(Path.Combine(candidate, "nab", "realKnownCause"))) return candidate;
        }

        return null;
    }

    [Fact]
    public void OurDetector_BeatsTheNullDetector_AndIsDeterministic()
    {
        var data = FindDataDir();
        Assert.SkipUnless(data is not null, "shared/data/nab not found above the test directory");
        var settings = new NabLstmSettings { Hidden = 16, Epochs = 4, Seed = 1 };
        var a = NabEvalCommand.Evaluate(data!, settings, File);
        var b = NabEvalCommand.Evaluate(data!, settings, File);
        var standard = a.Profiles.Single(p => p.Profile == "standard");
        Assert.Equal(3, a.Files[0].Series.Windows.Count);
        Assert.True(standard.Ours.Total > 0, $"ours {standard.Ours.Total} should beat the null detector (0)");
        Assert.Equal(standard.Ours.Raw, b.Profiles.Single(p => p.Profile == "standard").Ours.Raw);
        Assert.Equal(standard.Baseline.Raw, b.Profiles.Single(p => p.Profile == "standard").Baseline.Raw);
    }
}
