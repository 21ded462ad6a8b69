namespace StreamLstm.Streaming.Tests.Cli;

/// <summary><c>streamlstm replay</c> as a child process, on data folders made for the test.</summary>
public class ReplayCommandTests
{
    private static readonly TimeSpan Phase = TimeSpan.FromSeconds(90);

    [Theory]
    [InlineData("date,AAPL\n")]
    [InlineData("date,AAPL\nnot-a-date,1.0\n")]
    public async Task ASourceWithNoReadableRow_ExitsTwo_SayingNothingWasProduced(string content)
    {
        var data = Directory.CreateTempSubdirectory("streamlstm-replay-empty-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(data, "market"));
            await File.WriteAllTextAsync(Path.Combine(data, "market", "daily_close_20_tickers.csv"), content, TestContext.Current.CancellationToken);
            await using var replay = CliProcess.Start("replay", "--source", "market-daily", "--data-dir", data, "--speed", "0");
            Assert.Equal(2, await replay.WaitForExitAsync(Phase, "replay of an empty source"));
            Assert.Contains("replay: no market-daily events were read from", replay.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("1970", replay.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}
