namespace StreamLstm.Sink.Tests.Support;

/// <summary>Waits on conditions (never fixed sleeps); a timeout fails with the phase's name.</summary>
internal static class Wait
{
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string phase)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(25));
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out after {timeout.TotalSeconds} s waiting for: {phase}");
            await timer.WaitForNextTickAsync();
        }
    }

    public static async Task ForAsync(Task task, TimeSpan timeout, string phase)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"timed out after {timeout.TotalSeconds} s waiting for: {phase}");
        }
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string phase) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, phase);
}
