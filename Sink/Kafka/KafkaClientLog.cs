using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace StreamLstm.Sink.Kafka;

/// <summary>
/// librdkafka's own log lines and transient client errors, written to the service's <see cref="ILogger"/> instead of
/// stderr (the library's and Confluent.Kafka's default), so they reach the same sinks, levels and filters as every other line.
/// </summary>
internal static partial class KafkaClientLog
{
    /// <summary>Writes one librdkafka log line at its level (syslog levels mapped to <see cref="LogLevel"/>).</summary>
    /// <param name="logger">Logger.</param>
    /// <param name="message">The client's log message.</param>
    public static void Write(ILogger logger, LogMessage message) =>
        Line(logger, (LogLevel)message.LevelAs(LogLevelType.MicrosoftExtensionsLogging), message.Name, message.Facility, message.Message);

    /// <summary>A non-fatal client error (e.g. all brokers down): the client keeps retrying, so it is a warning.</summary>
    /// <param name="logger">Logger.</param>
    /// <param name="client">The client's name.</param>
    /// <param name="reason">The error's text.</param>
    public static void TransientError(ILogger logger, string client, string reason) => Transient(logger, client, reason);

    [LoggerMessage(Message = "librdkafka {Client} {Facility}: {Text}")]
    private static partial void Line(ILogger logger, LogLevel level, string client, string facility, string text);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Kafka client {Client}: {Reason} (transient; the client retries)")]
    private static partial void Transient(ILogger logger, string client, string reason);
}
