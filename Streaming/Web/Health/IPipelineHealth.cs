namespace StreamLstm.Streaming.Web.Health;

/// <summary>What readiness needs to know about the pipeline.</summary>
public interface IPipelineHealth
{
    /// <summary>The pipeline was built: every model loaded and matched to its kind's features.</summary>
    bool ModelsLoaded { get; }

    /// <summary>The Kafka consumer holds at least one partition.</summary>
    bool HasAssignment { get; }

    /// <summary>Every worker is running (none failed or stopped); true before start.</summary>
    bool WorkersAlive { get; }
}

/// <summary>What readiness needs to know about InfluxDB.</summary>
public interface IInfluxHealth
{
    /// <summary>Whether forecasts can be delivered: InfluxDB answers, or the spool still has room.</summary>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>Healthy or not, with a sentence saying why.</returns>
    Task<(bool Healthy, string Description)> CheckAsync(CancellationToken cancellationToken);
}
