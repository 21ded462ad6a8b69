using System.Diagnostics;

namespace StreamLstm.Web.Tests.Support;

/// <summary>Waits for a condition with a timeout whose message names the phase (no fixed sleeps).</summary>
internal static class Eventually
{
    /// <summary>Polls <paramref name="condition"/> until true or <paramref name="timeout"/>.</summary>
    /// <param name="phase">What is being waited for (in the failure message).</param>
    /// <param name="timeout">Limit.</param>
    /// <param name="condition">The condition.</param>
    /// <returns>A task.</returns>
    public static async Task WaitAsync(string phase, TimeSpan timeout, Func<Task<bool>> condition)
    {
        var sw = Stopwatch.StartNew();
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (!await condition().ConfigureAwait(false))
        {
            if (sw.Elapsed > timeout) throw new TimeoutException($"{phase}: not reached within {timeout}.");
            await tick.WaitForNextTickAsync().ConfigureAwait(false);
        }
    }
}
