using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Eval.Alerts;

namespace StreamLstm.Streaming.Tests.Eval.Alerts;

/// <summary><c>eval alerts</c> refuses numbers it cannot run with, before it trains anything (a negative --events ran and reported "-3 events").</summary>
public class AlertEvalArgumentsTests
{
    [Theory]
    [InlineData("--events", "-1", "--events must be >= 1 (got -1).")]
    [InlineData("--events", "0", "--events must be >= 1 (got 0).")]
    [InlineData("--anomaly-rate", "-1", "--anomaly-rate must be a finite number >= 0 (got -1).")]
    [InlineData("--grace-events", "-2", "--grace-events must be a finite number >= 0 (got -2).")]
    [InlineData("--hidden", "0", "--hidden and --epochs must be >= 1 (got 0, 6).")]
    [InlineData("--epochs", "0", "--hidden and --epochs must be >= 1 (got 32, 0).")]
    public void AnUnusableNumber_EndsWithExit2AndAMessage_BeforeTraining(string option, string value, string expected)
    {
        var json = Path.Combine(Path.GetTempPath(), $"alerts-args-{Guid.NewGuid():N}.json");
        var output = new StringWriter();
        var error = new StringWriter();
        string[] args = ["eval", "alerts", option, value, "--json", json];
        var code = CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
        Assert.Equal(2, code);
        Assert.Equal("eval alerts: " + expected, error.ToString().Trim());
        Assert.DoesNotContain("trained", output.ToString(), StringComparison.Ordinal);
        Assert.False(File.Exists(json));
    }

    [Fact]
    public void TheDefaults_AreValid()
    {
        Assert.Null(AlertEvalCommand.Invalid(new AlertEvalSettings()));
        Assert.NotNull(AlertEvalCommand.Invalid(new AlertEvalSettings { AnomalyRate = double.NaN }));
        Assert.NotNull(AlertEvalCommand.Invalid(new AlertEvalSettings { GraceEvents = double.PositiveInfinity }));
    }
}
