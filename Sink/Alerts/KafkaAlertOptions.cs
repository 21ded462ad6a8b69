namespace StreamLstm.Sink.Alerts;

/// <summary>Settings of the <c>alerts</c> Kafka topic output.</summary>
public sealed class KafkaAlertOptions
{
    /// <summary>Bootstrap servers; empty disables the Kafka alert output.</summary>
    public string? BootstrapServers { get; set; }

    /// <summary>Topic.</summary>
    public string Topic { get; set; } = "alerts";

    /// <summary>Pause before re-producing an alert whose delivery failed.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00.001", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Sink:Alerts:RedeliveryDelay must be between {1} and {2}.")]
    public TimeSpan RedeliveryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>librdkafka <c>delivery.timeout.ms</c>: how long the idempotent producer retries internally before reporting an error.</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:01", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Sink:Alerts:DeliveryTimeout must be between {1} and {2}.")]
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long dispose waits for unacknowledged alerts (they are logged as undelivered after that).</summary>
    [System.ComponentModel.DataAnnotations.Range(typeof(TimeSpan), "00:00:00", "1.00:00:00", ParseLimitsInInvariantCulture = true, ConvertValueInInvariantCulture = true, ErrorMessage = "Sink:Alerts:ShutdownTimeout must be between {1} and {2}.")]
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Problems, each saying what to fix.</summary>
    /// <returns>Problems.</returns>
    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers))
        {
            yield break;
        }

        if (string.IsNullOrWhiteSpace(Topic))
        {
            yield return "Sink:Alerts:Topic must be set when Sink:Alerts:BootstrapServers is.";
        }

        if (RedeliveryDelay <= TimeSpan.Zero || DeliveryTimeout < TimeSpan.FromSeconds(1))
        {
            yield return "Sink:Alerts:RedeliveryDelay must be positive and DeliveryTimeout at least 00:00:01.";
        }
    }

    /// <summary>Extra librdkafka producer properties (security settings...); the service copies <c>Kafka:Client</c> here.</summary>
    public Dictionary<string, string> Extra { get; set; } = [];

    /// <summary>Exactly-once: the process's transactional producer, produced through instead of an own client (null: own client).</summary>
    public Confluent.Kafka.Handle? SharedProducer { get; set; }
}
