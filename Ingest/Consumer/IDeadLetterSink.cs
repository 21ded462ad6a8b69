using StreamLstm.Ingest.Decoding;

namespace StreamLstm.Ingest.Consumer;

/// <summary>Where bad and late messages go, with their original key and value.</summary>
public interface IDeadLetterSink
{
    /// <summary>Hands a bad message to the dead-letter topic. Returns once it is queued for delivery.</summary>
    /// <param name="reason">Why.</param>
    /// <param name="partition">Source partition.</param>
    /// <param name="offset">Source offset.</param>
    /// <param name="key">Original key.</param>
    /// <param name="value">Original value.</param>
    void DeadLetter(DeadLetterReason reason, PartitionState partition, long offset, byte[]? key, byte[]? value);

    /// <summary>Hands a late event (older than its key's last) to the late side topic.</summary>
    /// <param name="partition">Source partition.</param>
    /// <param name="offset">Source offset.</param>
    /// <param name="key">Original key.</param>
    /// <param name="value">Original value.</param>
    /// <param name="lastTimestampMs">The key's last processed event time.</param>
    void Late(PartitionState partition, long offset, byte[]? key, byte[]? value, long lastTimestampMs);

    /// <summary>
    /// Waits until everything handed over before the call is delivered or given up (given-up ones hold their partition's
    /// offset back). Part of the consumer's durability barrier, like the forecast outputs' flush; safe while workers write.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the earlier dead letters are delivered.</returns>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}
