using System.Diagnostics;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Generators;

/// <summary>One generator measurement.</summary>
/// <param name="Kind">Source kind.</param>
/// <param name="Keys">Key count.</param>
/// <param name="Mode"><c>json</c> (Next into a span) or <c>struct</c> (NextEvent only).</param>
/// <param name="Events">Events timed.</param>
/// <param name="EventsPerSecond">Throughput on the calling thread.</param>
/// <param name="BytesPerEvent">Mean JSON size (0 for struct mode).</param>
/// <param name="AllocatedBytes">Managed bytes allocated by the calling thread while timing.</param>
public sealed record GeneratorMeasurement(SourceKind Kind, int Keys, string Mode, long Events, double EventsPerSecond, double BytesPerEvent, long AllocatedBytes);

/// <summary>Measures generator throughput (for a <c>bench</c> command; nothing here asserts a speed).</summary>
public static class GeneratorBenchmark
{
    /// <summary>Times <paramref name="events"/> events after a warm-up of a tenth as many.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="keys">Key count.</param>
    /// <param name="events">Events to time.</param>
    /// <param name="json">True: write JSON (the Kafka path); false: struct only.</param>
    /// <returns>The measurement.</returns>
    public static GeneratorMeasurement Measure(SourceKind kind, int keys, long events, bool json = true)
    {
        var generator = EventGenerators.Create(kind, keys);
        var buffer = new byte[EventJson.MaxEventBytes];
        Run(generator, buffer, Math.Max(1, events / 10), json);
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var start = Stopwatch.GetTimestamp();
        var bytes = Run(generator, buffer, events, json);
        var elapsed = Stopwatch.GetElapsedTime(start);
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        return new GeneratorMeasurement(kind, keys, json ? "json" : "struct", events, events / elapsed.TotalSeconds, json ? bytes / (double)events : 0, allocated);
    }

    private static long Run(IEventGenerator generator, byte[] buffer, long events, bool json)
    {
        long bytes = 0;
        switch (generator)
        {
            case TickGenerator t when !json:
                for (long i = 0; i < events; i++)
                {
                    t.NextEvent(out _);
                }

                break;
            case VitalsGenerator v when !json:
                for (long i = 0; i < events; i++)
                {
                    v.NextEvent(out _);
                }

                break;
            case AudioFrameGenerator a when !json:
                for (long i = 0; i < events; i++)
                {
                    a.NextEvent(out _);
                }

                break;
            default:
                for (long i = 0; i < events; i++)
                {
                    generator.Next(buffer, out var n);
                    bytes += n;
                }

                break;
        }

        return bytes;
    }
}
