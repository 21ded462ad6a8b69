using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;
using StreamLstm.Streaming.Online;
using StreamLstm.Streaming.Online.Gate;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Eval.Alerts;

/// <summary>
/// The one place where <c>eval alerts</c> starts the online trainer (<see cref="OnlineTrainerService"/>, the service's own)
/// beside its pipeline when <c>Online:Enabled</c> is true: replay buffers fed by the workers, the <c>Online</c> triggers,
/// the champion/challenger gate and hot swaps, exactly as in <c>run</c>/<c>demo</c>. Nothing is registered on disk.
/// </summary>
public sealed class OnlineTrainer : IAsyncDisposable
{
    private readonly OnlineTrainerService? _service;

    private OnlineTrainer(OnlineTrainerService? service) => _service = service;

    /// <summary>Whether a trainer is running beside the pipeline.</summary>
    public bool Active => _service is not null;

    /// <summary>Fine-tunes tried and promoted so far, over all kinds (0 when off).</summary>
    public (long Tried, long Promoted) Totals
    {
        get
        {
            if (_service is null) return (0, 0);
            long tried = 0, promoted = 0;
            foreach (var k in Enum.GetValues<SourceKind>())
            {
                if (_service.Counters(k) is not { } c) continue;
                tried += c.FineTunes;
                promoted += c.Verdicts(GateVerdict.Promoted);
            }

            return (tried, promoted);
        }
    }

    /// <summary>Attaches online learning to <paramref name="pipeline"/> and starts the trainer when <paramref name="enabled"/>; call before the pipeline starts.</summary>
    /// <param name="pipeline">The pipeline, not yet started.</param>
    /// <param name="models">The serving models.</param>
    /// <param name="configuration">Configuration (its <c>Online</c> section).</param>
    /// <param name="enabled"><c>Online:Enabled</c>.</param>
    /// <param name="ct">Cancels the start.</param>
    /// <returns>A handle that stops the trainer when disposed.</returns>
    public static async Task<OnlineTrainer> AttachAsync(StreamPipeline pipeline, IReadOnlyDictionary<SourceKind, LstmModel> models, IConfiguration configuration, bool enabled, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ArgumentNullException.ThrowIfNull(configuration);
        if (!enabled) return new OnlineTrainer(null);
        var options = configuration.GetSection(OnlineOptions.Section).Get<OnlineOptions>() ?? new OnlineOptions();
        options.Enabled = true;
        options.RegistryDirectory = ""; // an evaluation promotes in memory only
        var online = new OnlineLearning(models, options);
        pipeline.AttachOnline(online);
        var service = new OnlineTrainerService(online, TimeProvider.System, NullLogger<OnlineTrainerService>.Instance);
        await service.StartAsync(ct).ConfigureAwait(false);
        return new OnlineTrainer(service);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_service is null) return;
        await _service.StopAsync(CancellationToken.None).ConfigureAwait(false);
        _service.Dispose();
    }
}
