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

    /// <summary>Waits until everything handed over is delivered (shutdown).</summary>
    /// <param name="timeout">Maximum wait.</param>
    void Flush(TimeSpan timeout);
}
