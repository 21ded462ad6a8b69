using Microsoft.Extensions.Options;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.Spool;

namespace StreamLstm.Sink.Hosting;

/// <summary>All sink settings (configuration section <c>Sink</c>). <see cref="ToString"/> redacts secrets.</summary>
public sealed class SinkOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Sink";

    /// <summary>InfluxDB connection and batching; no <see cref="InfluxOptions.Url"/> means a line-protocol file.</summary>
    [ValidateObjectMembers]
    public InfluxOptions Influx { get; set; } = new();

    /// <summary>On-disk spool used while InfluxDB is unavailable.</summary>
    [ValidateObjectMembers]
    public SpoolOptions Spool { get; set; } = new();

    /// <summary>Directory of <c>rejected.jsonl</c> and quarantined spool bytes.</summary>
    public string DeadLetterDirectory { get; set; } = Path.Combine("artifacts", "dlq");

    /// <summary>Line-protocol file written when no InfluxDB URL is configured.</summary>
    public string FilePath { get; set; } = Path.Combine("artifacts", "sink", "forecasts.lp");

    /// <summary>Anomaly scoring and alert thresholds.</summary>
    [ValidateObjectMembers]
    public AnomalyOptions Anomaly { get; set; } = new();

    /// <summary>The <c>alerts</c> Kafka topic output.</summary>
    [ValidateObjectMembers]
    public KafkaAlertOptions Alerts { get; set; } = new();

    /// <summary>Whether an InfluxDB URL is configured.</summary>
    public bool HasInflux => !string.IsNullOrWhiteSpace(Influx.Url);

    /// <summary>Problems, each saying what to fix; empty when valid.</summary>
    /// <returns>Problems.</returns>
    public IEnumerable<string> Validate()
    {
        foreach (var p in Influx.Validate())
        {
            yield return p;
        }

        if (string.IsNullOrWhiteSpace(Spool.Directory))
        {
            yield return "Sink:Spool:Directory must be set (a writable directory for segments).";
        }

        if (Spool.MaxBytes < 1 << 20 || Spool.SegmentBytes < 4096 || Spool.SegmentBytes > Spool.MaxBytes)
        {
            yield return "Sink:Spool:MaxBytes must be at least 1 MiB and SegmentBytes between 4 KiB and MaxBytes.";
        }

        if (string.IsNullOrWhiteSpace(DeadLetterDirectory))
        {
            yield return "Sink:DeadLetterDirectory must be set.";
        }

        if (!HasInflux && string.IsNullOrWhiteSpace(FilePath))
        {
            yield return "Sink:FilePath must be set when no InfluxDB URL is configured.";
        }

        foreach (var p in Anomaly.Validate())
        {
            yield return p;
        }

        foreach (var p in Alerts.Validate())
        {
            yield return p;
        }
    }

    /// <inheritdoc />
    public override string ToString() => (HasInflux ? Influx.ToString() : "line-protocol file " + FilePath)
        + $"; spool {Spool.Directory} max {Spool.MaxBytes} bytes ({Spool.FullPolicy} when full); alerts topic "
        + (string.IsNullOrWhiteSpace(Alerts.BootstrapServers) ? "(off)" : Alerts.Topic + " @ " + Alerts.BootstrapServers);
}

/// <summary>Validates <see cref="SinkOptions"/> at startup.</summary>
public sealed class SinkOptionsValidator : IValidateOptions<SinkOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SinkOptions options)
    {
        var problems = options.Validate().ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
