using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Generators;

/// <summary>Creates a generator per <see cref="SourceKind"/> with the kind's defaults, for callers that treat all alike.</summary>
public static class EventGenerators
{
    /// <summary>Creates the generator for <paramref name="kind"/>.</summary>
    /// <param name="kind">Source kind.</param>
    /// <param name="keys">Number of keys.</param>
    /// <param name="seed">Seed.</param>
    /// <param name="eventsPerKeyPerSecond">Per-key rate; null keeps the kind's default (ticks 10/s, vitals 1/s, audio 100/s).</param>
    /// <param name="configure">Optional further settings (cast to the kind's options type for kind-specific ones).</param>
    /// <returns>The generator.</returns>
    public static IEventGenerator Create(SourceKind kind, int keys, ulong seed = 42, double? eventsPerKeyPerSecond = null, Action<GeneratorOptions>? configure = null)
    {
        GeneratorOptions options = kind switch
        {
            SourceKind.Tick => new TickGeneratorOptions(),
            SourceKind.Vitals => new VitalsGeneratorOptions(),
            SourceKind.Audio => new AudioGeneratorOptions(),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
        options.Keys = keys;
        options.Seed = seed;
        if (eventsPerKeyPerSecond is { } rate)
        {
            options.EventsPerKeyPerSecond = rate;
        }

        configure?.Invoke(options);
        return options switch
        {
            TickGeneratorOptions t => new TickGenerator(t),
            VitalsGeneratorOptions v => new VitalsGenerator(v),
            AudioGeneratorOptions a => new AudioFrameGenerator(a),
            _ => throw new InvalidOperationException("unreachable"),
        };
    }

    /// <summary>The default topic for a kind.</summary>
    /// <param name="kind">Source kind.</param>
    /// <returns><c>ticks</c>, <c>vitals</c> or <c>audio-features</c>.</returns>
    public static string DefaultTopic(SourceKind kind) => kind switch
    {
        SourceKind.Tick => "ticks",
        SourceKind.Vitals => "vitals",
        SourceKind.Audio => "audio-features",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };
}
