using System.Buffers;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Generators;

/// <summary>
/// An endless, deterministic stream of JSON events for many keys, in virtual-time order (ties by key index).
/// Each call writes one event's JSON value and returns its key index, timestamp and anomaly label.
/// Not thread-safe: one generator per producing thread.
/// </summary>
public interface IEventGenerator
{
    /// <summary>Which contract the events follow.</summary>
    SourceKind Kind { get; }

    /// <summary>Number of keys.</summary>
    int KeyCount { get; }

    /// <summary>Number of events generated so far.</summary>
    long Generated { get; }

    /// <summary>The entity id (Kafka message key) of a key index.</summary>
    /// <param name="keyIndex">Key index.</param>
    /// <returns>The id, e.g. <c>SYM0007</c>.</returns>
    string GetKey(int keyIndex);

    /// <summary>The entity id as UTF-8 bytes (cached; do not modify).</summary>
    /// <param name="keyIndex">Key index.</param>
    /// <returns>The id bytes.</returns>
    ReadOnlySpan<byte> GetKeyUtf8(int keyIndex);

    /// <summary>Generates the next event and writes its JSON into <paramref name="destination"/>.</summary>
    /// <param name="destination">At least <see cref="EventJson.MaxEventBytes"/> bytes.</param>
    /// <param name="bytesWritten">JSON length.</param>
    /// <returns>Key, timestamp and label of the event.</returns>
    GeneratedEvent Next(Span<byte> destination, out int bytesWritten);

    /// <summary>Generates the next event and appends its JSON to <paramref name="output"/>.</summary>
    /// <param name="output">The buffer writer.</param>
    /// <returns>Key, timestamp and label of the event.</returns>
    GeneratedEvent Next(IBufferWriter<byte> output);
}
