using Confluent.Kafka;
using Microsoft.Extensions.Logging;

namespace StreamLstm.Ingest.Kafka;

/// <summary>
/// Routes a Kafka client's own librdkafka log lines to an <see cref="ILogger"/> (Confluent.Kafka's default writes them to
/// stderr), at their level, so they reach the service's log sinks and filters like every other line.
/// </summary>
public static partial class KafkaClientLogging
{
    /// <summary>Sends the consumer's librdkafka log lines to <paramref name="logger"/>.</summary>
    /// <typeparam name="TKey">Key type.</typeparam>
    /// <typeparam name="TValue">Value type.</typeparam>
    /// <param name="builder">The consumer builder.</param>
    /// <param name="logger">Logger.</param>
    /// <returns>The builder.</returns>
    public static ConsumerBuilder<TKey, TValue> LogTo<TKey, TValue>(this ConsumerBuilder<TKey, TValue> builder, ILogger logger) =>
        builder.SetLogHandler((_, m) => Write(logger, m));

    /// <summary>Sends the producer's librdkafka log lines to <paramref name="logger"/>.</summary>
    /// <typeparam name="TKey">Key type.</typeparam>
    /// <typeparam name="TValue">Value type.</typeparam>
    /// <param name="builder">The producer builder.</param>
    /// <param name="logger">Logger.</param>
    /// <returns>The builder.</returns>
    public static ProducerBuilder<TKey, TValue> LogTo<TKey, TValue>(this ProducerBuilder<TKey, TValue> builder, ILogger logger) =>
        builder.SetLogHandler((_, m) => Write(logger, m));

    private static void Write(ILogger logger, LogMessage m) => Line(logger, (LogLevel)m.LevelAs(LogLevelType.MicrosoftExtensionsLogging), m.Name, m.Facility, m.Message);

    [LoggerMessage(Message = "librdkafka {Client} {Facility}: {Text}")]
    private static partial void Line(ILogger logger, LogLevel level, string client, string facility, string text);
}
