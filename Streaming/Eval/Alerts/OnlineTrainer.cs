using Microsoft.Extensions.Configuration;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Eval.Alerts;

/// <summary>
/// The one place where <c>eval alerts</c> starts the online trainer beside its pipeline when <c>Online:Enabled</c> is true.
/// The trainer service is built on another branch; until it is merged, <see cref="Attach"/> starts nothing and the run
/// reports <c>online_active: false</c>, so a figure is never labelled "trainer on" when no trainer ran.
/// </summary>
public sealed class OnlineTrainer : IAsyncDisposable
{
    private OnlineTrainer(bool active) => Active = active;

    /// <summary>Whether a trainer is running beside the pipeline.</summary>
    public bool Active { get; }

    /// <summary>Starts the online trainer for <paramref name="pipeline"/> when <paramref name="enabled"/> and one exists.</summary>
    /// <param name="pipeline">The running pipeline.</param>
    /// <param name="configuration">Configuration (its <c>Online</c> section).</param>
    /// <param name="enabled"><c>Online:Enabled</c>.</param>
    /// <returns>A handle that stops the trainer when disposed.</returns>
    public static OnlineTrainer Attach(StreamPipeline pipeline, IConfiguration configuration, bool enabled)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(configuration);
        _ = enabled; // Merge point: build and start the trainer service (Online section) here, and return new OnlineTrainer(true).
        return new OnlineTrainer(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
