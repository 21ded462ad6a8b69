namespace StreamLstm.Ingest.Generators;

/// <summary>
/// A block of pre-generated events in one contiguous byte arena: JSON values, their offsets, keys and labels. For
/// benchmarks that must feed events faster than generation runs: fill once, then read the same events any number of
/// times at memory speed.
/// </summary>
public sealed class EventBatch
{
    private readonly byte[] _data;
    private readonly int[] _offsets;
    private readonly GeneratedEvent[] _events;

    private EventBatch(byte[] data, int[] offsets, GeneratedEvent[] events, IEventGenerator source)
    {
        _data = data;
        _offsets = offsets;
        _events = events;
        Source = source;
    }

    /// <summary>Number of events.</summary>
    public int Count => _events.Length;

    /// <summary>The generator the events came from (for key names).</summary>
    public IEventGenerator Source { get; }

    /// <summary>Total JSON bytes.</summary>
    public long Bytes => _offsets[^1];

    /// <summary>Generates <paramref name="count"/> events from <paramref name="generator"/>.</summary>
    /// <param name="generator">The source.</param>
    /// <param name="count">Number of events.</param>
    /// <returns>The batch.</returns>
    public static EventBatch Fill(IEventGenerator generator, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var data = new byte[Math.Max(EventJson.MaxEventBytes, count * 128)];
        var offsets = new int[count + 1];
        var events = new GeneratedEvent[count];
        var position = 0;
        for (var i = 0; i < count; i++)
        {
            if (data.Length - position < EventJson.MaxEventBytes)
            {
                Array.Resize(ref data, (int)Math.Min(Array.MaxLength, (long)data.Length * 2));
            }

            events[i] = generator.Next(data.AsSpan(position), out var n);
            position += n;
            offsets[i + 1] = position;
        }

        return new EventBatch(data, offsets, events, generator);
    }

    /// <summary>Event <paramref name="index"/>'s key, time and label.</summary>
    /// <param name="index">0..Count-1.</param>
    /// <returns>The event info.</returns>
    public GeneratedEvent this[int index] => _events[index];

    /// <summary>Event <paramref name="index"/>'s JSON value.</summary>
    /// <param name="index">0..Count-1.</param>
    /// <returns>The bytes (a view into the arena).</returns>
    public ReadOnlySpan<byte> Value(int index) => _data.AsSpan(_offsets[index], _offsets[index + 1] - _offsets[index]);

    /// <summary>Event <paramref name="index"/>'s key bytes.</summary>
    /// <param name="index">0..Count-1.</param>
    /// <returns>The key (cached by the generator).</returns>
    public ReadOnlySpan<byte> Key(int index) => Source.GetKeyUtf8(_events[index].KeyIndex);
}
