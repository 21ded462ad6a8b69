using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Tests.Cli;

/// <summary>
/// Malformed or out-of-range option values are usage errors that name the option, found while parsing: never an exception
/// (which ended the process with an unhandled-exception dump, exit 134, before this).
/// </summary>
public class OptionErrorsTests
{
    [Theory]
    [InlineData("'abc' for option '--events'", "generate --bootstrap-servers h:1 --events abc")]
    [InlineData("--events must be >= 0", "generate --bootstrap-servers h:1 --events -5")]
    [InlineData("--delivery-timeout: 'xyz' is not a duration", "generate --bootstrap-servers h:1 --events 1 --delivery-timeout xyz")]
    [InlineData("--caught-up-for: '-3s' is not a duration", "run --bootstrap-servers h:1 --until-caught-up --caught-up-for -3s")]
    [InlineData("--assignment-timeout: 'soon' is not a duration", "run --bootstrap-servers h:1 --until-caught-up --assignment-timeout soon")]
    [InlineData("--duration: 'abc' is not a duration", "demo --duration abc")]
    [InlineData("--duration: 'NaN' is not a duration", "demo --duration NaN")]
    [InlineData("--duration: 'Infinitys' is not a duration", "demo --duration Infinitys")]
    [InlineData("--partitions", "broker --partitions abc")]
    [InlineData("--port", "broker --port abc")]
    [InlineData("--port must be 1..65535", "broker --port 70000")]
    [InlineData("--speed", "replay --source vitals --speed abc")]
    [InlineData("--limit", "replay --source vitals --limit abc")]
    [InlineData("--refractory", "eval nab --refractory abc")]
    [InlineData("--refractory must be 0 or more", "eval nab --refractory -1")]
    [InlineData("--workers must be 0..1024", "demo --workers -1")]
    [InlineData("--symbols must be 0..10000000", "demo --symbols -1")]
    [InlineData("--hidden must be 1..4096", "demo --hidden 0")]
    [InlineData("--rate must be a number > 0", "demo --rate -1")]
    [InlineData("--partitions must be 1..1000", "demo --partitions 0")]
    [InlineData("--epochs must be 0 or more", "demo --epochs -1")]
    [InlineData("--anomaly-rate must be a number >= 0", "demo --anomaly-rate NaN")]
    [InlineData("--speed must be a number >= 0", "demo --replay vitals --speed -2")]
    [InlineData("--events must be 1 or more", "bench pipeline --events -5")]
    [InlineData("--keys must be 1 or more", "bench state --keys -1")]
    [InlineData("--seconds must be a number > 0", "soak --seconds -1")]
    [InlineData("--duty-cycle must be in (0, 1]", "bench online --duty-cycle 2")]
    [InlineData("--layers must be 1..16", "model train --layers 0")]
    [InlineData("--retrain-every must be 1 or more", "eval nab --retrain-every 0")]
    [InlineData("--workers: 'x' is not a whole number in 1..64", "bench pipeline --workers 1,x")]
    [InlineData("--workers: give at least one value", "bench pipeline --workers ,")]
    [InlineData("--runs: 'foo' is not one of core, kafka, paced, transport", "bench pipeline --runs core,foo")]
    [InlineData("--latency: 'fast' is not one of Low, Balanced, Throughput", "bench pipeline --latency fast")]
    [InlineData("--paced-partitions: '0' is not a whole number in 1..64", "bench pipeline --paced-partitions 0")]
    [InlineData("--paced-nagle: 'zz' is not one of", "bench pipeline --paced-nagle zz")]
    [InlineData("--paced-retention-ms: 'x' is not a whole number of 0 or more", "bench pipeline --paced-retention-ms x")]
    [InlineData("--knobs: '1,2' needs 4 or 5", "bench pipeline --knobs 1,2")]
    [InlineData("--warmup-events must be 0 or more", "bench pipeline --warmup-events -1")]
    [InlineData("--paced-warmup-seconds must be 0 or more", "bench pipeline --paced-warmup-seconds -1")]
    public void ABadValue_IsAParseErrorNamingTheOption(string expected, string commandLine)
    {
        var result = CommandLineApp.Build().Parse(commandLine.Split(' '));
        Assert.Contains(result.Errors, e => e.Message.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--forecast-producer: 'foo' is not NAME=VALUE", "--forecast-producer", "foo")]
    [InlineData("--consumer: 'a' is not NAME=VALUE", "--consumer", "a")]
    [InlineData("--compression-sweep: 'brotli' is not none, lz4, snappy or zstd", "--compression-sweep", "brotli")]
    [InlineData("--client-sweep: 'x' is not compression, p.NAME or c.NAME", "--client-sweep", "x=y")]
    public async Task BenchPipelinesClientSettings_AreAUsageError_BeforeAnythingRuns(string expected, string option, string value)
    {
        var error = new StringWriter();
        var code = await CommandLineApp.Build().Parse(["bench", "pipeline", "--runs", "kafka", option, value])
            .InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = new StringWriter(), Error = error }, TestContext.Current.CancellationToken);
        Assert.Equal(2, code);
        Assert.Contains(expected, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void EveryCommandsDefaults_PassItsOwnChecks()
    {
        var leaves = new List<string[]>();
        void Walk(System.CommandLine.Command c, string[] path)
        {
            if (c.Subcommands.Count == 0) leaves.Add(path);
            foreach (var sub in c.Subcommands) Walk(sub, [.. path, sub.Name]);
        }

        Walk(CommandLineApp.Build(), []);
        Assert.True(leaves.Count > 20, $"only {leaves.Count} commands found");
        foreach (var path in leaves)
        {
            // Required options and arguments may be missing here; no default may fail a range check.
            var errors = CommandLineApp.Build().Parse(path).Errors.Select(e => e.Message).Where(m => m.Contains("must be", StringComparison.Ordinal) || m.Contains("is not a duration", StringComparison.Ordinal));
            Assert.True(!errors.Any(), $"{string.Join(' ', path)}: {string.Join("; ", errors)}");
        }
    }

    [Theory]
    [InlineData("90s", 90)]
    [InlineData("1.5m", 90)]
    [InlineData("30", 30)]
    [InlineData("00:01:30", 90)]
    [InlineData(" 2s ", 2)]
    [InlineData("0", 0)]
    public void Durations_Parse(string text, double seconds)
    {
        Assert.True(DurationText.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("-1s")]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("1e300s")]
    [InlineData("-00:00:01")]
    public void NonDurations_AreRefused(string text)
    {
        Assert.False(DurationText.TryParse(text, out _));
        Assert.Throws<FormatException>(() => DurationText.Parse(text));
    }
}
