using StreamLstm.Model.Delivery;

namespace StreamLstm.Sink.Kafka;

/// <summary>
/// How <see cref="KafkaForecastOutput"/> hands one encoded row to Kafka: through Confluent.Kafka's producer
/// (<see cref="ClientForecastProducer"/>) or straight through librdkafka (<see cref="Native.NativeForecastProducer"/>).
/// Either way the row's delivery is final exactly once (delivered, or given up after retries) and then completes its
/// epoch in the shared <see cref="ForecastDeliveryLedger"/>.
/// </summary>
internal interface IForecastProducer : IDisposable
{
    /// <summary>
    /// Queues one row (waiting out a full queue). The bytes are copied before the call returns. A row refused at once is
    /// retried or given up like a failed delivery; only a fatal producer error or cancellation throws (the row was not queued).
    /// </summary>
    /// <param name="key">Message key (not modified or kept).</param>
    /// <param name="value">Message value (valid only during the call).</param>
    /// <param name="epoch">The epoch the row was counted in.</param>
    /// <param name="cancellationToken">Cancels a queue-full wait.</param>
    void Produce(byte[] key, ReadOnlySpan<byte> value, DeliveryEpochs.Epoch epoch, CancellationToken cancellationToken);
}
