using System.Buffers;
using StreamLstm.Ingest.Generators;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Generate;

/// <summary>Passes a generator through and remembers the first and last event time it produced (for the summary).</summary>
/// <param name="inner">The generator.</param>
internal sealed class TimeRangeTap(IEventGenerator inner) : IEventGenerator
{
    /// <summary>Time of the first event, epoch ms; -1 before any.</summary>
    public long FirstMs { get; private set; } = -1;

    /// <summary>Time of the last event, epoch ms; -1 before any.</summary>
    public long LastMs { get; private set; } = -1;

    public SourceKind Kind => inner.Kind;

    public int KeyCount => inner.KeyCount;

    public long Generated => inner.Generated;

    public string GetKey(int keyIndex) => inner.GetKey(keyIndex);

    public ReadOnlySpan<byte> GetKeyUtf8(int keyIndex) => inner.GetKeyUtf8(keyIndex);

    public GeneratedEvent Next(Span<byte> destination, out int bytesWritten) => Seen(inner.Next(destination, out bytesWritten));

    public GeneratedEvent Next(IBufferWriter<byte> output) => Seen(inner.Next(output));

    private GeneratedEvent Seen(GeneratedEvent e)
    {
        if (FirstMs < 0) FirstMs = e.TimestampMs;
        LastMs = e.TimestampMs;
        return e;
    }
}
