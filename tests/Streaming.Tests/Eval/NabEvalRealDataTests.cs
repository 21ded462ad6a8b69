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
        var settings = new NabLstmSettings { Hidden = 16, Epochs = 4, Seed = 1, Mode = NabMode.Probation };
        var a = NabEvalCommand.Evaluate(data!, settings, File);
        var b = NabEvalCommand.Evaluate(data!, settings, File);
        var standard = a.Profiles.Single(p => p.Profile == "standard");
        Assert.Equal(3, a.Files[0].Series.Windows.Count);
        Assert.True(standard.Ours.Total > 0, $"ours {standard.Ours.Total} should beat the null detector (0)");
        Assert.Equal(standard.Ours.Raw, b.Profiles.Single(p => p.Profile == "standard").Ours.Raw);
        Assert.Equal(standard.Baseline.Raw, b.Profiles.Single(p => p.Profile == "standard").Baseline.Raw);
    }

    [Fact]
    public void OnlineMode_LearnsInOnePass_ScoresInUnitRange_AndIsDeterministic()
    {
        var data = FindDataDir();
        Assert.SkipUnless(data is not null, "shared/data/nab not found above the test directory");
        const string name = "rogue_agent_key_hold.csv";
        var a = NabEvalCommand.Evaluate(data!, new NabLstmSettings { Hidden = 16, Seed = 1 }, name);
        var b = NabEvalCommand.Evaluate(data!, new NabLstmSettings { Hidden = 16, Seed = 1 }, name);
        Assert.Equal("realKnownCause/rogue_agent_key_hold.csv", a.Files[0].Series.Name);
        Assert.Equal(a.OursScores[0], b.OursScores[0]);
        Assert.All(a.OursScores[0].Where(double.IsFinite), x => Assert.InRange(x, 0, 1));
        Assert.True(a.OursScores[0].Skip(a.Files[0].Series.Rows / 4).All(double.IsFinite), "every row after the first quarter has a score (the likelihood needs its history first)");
    }

    [Fact]
    public void EvalForecast_OnARealSeries_ForecastsAndScoresEveryModel()
    {
        var data = FindDataDir();
        Assert.SkipUnless(data is not null, "shared/data/nab not found above the test directory");
        var series = StreamLstm.Streaming.Eval.Forecast.SeriesCsv.Read(Path.Combine(data!, "nab", "realKnownCause", File), "timestamp", "value");
        var r = StreamLstm.Streaming.Eval.Forecast.ForecastEvaluation.Run(series, 3, new StreamLstm.Streaming.Eval.Forecast.OnlineLstmSettings { Hidden = 16 },
            StreamLstm.Streaming.Eval.Forecast.CalendarFeatures.TimeOfDay);
        Assert.Equal(4032, series.Count);
        Assert.Equal(["lstm-online", "lstm-alone", "last-value", "seasonal-naive", "linear-ar"], r.Models.Select(m => m.Name));
        Assert.All(r.Models, m => Assert.All(m.Metrics, h => Assert.True(h.Count > 3500 && double.IsFinite(h.Nrmse) && double.IsFinite(h.Nll), $"{m.Name}: {h}")));
        Assert.True(r.Lstm.Promotions > 0);
    }
}
