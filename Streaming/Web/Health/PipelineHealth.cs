using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Web.Health;

/// <summary><see cref="IPipelineHealth"/> read from the running <see cref="PipelineHostedService"/>.</summary>
/// <param name="service">The pipeline service.</param>
public sealed class PipelineHealth(PipelineHostedService service) : IPipelineHealth
{
    /// <inheritdoc />
    public bool ModelsLoaded => service.Started.IsCompletedSuccessfully;

    /// <inheritdoc />
    public bool HasAssignment => service.Consumer is { AssignedPartitions: > 0 };

    /// <inheritdoc />
    public bool WorkersAlive => !service.Started.IsCompletedSuccessfully || service.Started.Result.WorkersAlive;
}
