using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Hosting;

/// <summary>
/// The <c>--model</c> values of <c>demo</c> and <c>run</c>: <c>KIND=PATH</c> (kind <c>tick</c>, <c>vitals</c> or
/// <c>audio</c>), repeated, or a directory holding <c>tick.safetensors</c>, <c>vitals.safetensors</c> and/or
/// <c>audio.safetensors</c>. Later values win for the same kind.
/// </summary>
public static class ModelSpecs
{
    private static readonly SourceKind[] Kinds = [SourceKind.Tick, SourceKind.Vitals, SourceKind.Audio];

    /// <summary>Resolves the specs to one file per kind (files are not opened here).</summary>
    /// <param name="specs">The <c>--model</c> values.</param>
    /// <returns>Kind → model file.</returns>
    /// <exception cref="ArgumentException">A value is neither a directory nor <c>KIND=PATH</c> with a known kind.</exception>
    public static Dictionary<SourceKind, string> Parse(IEnumerable<string> specs)
    {
        ArgumentNullException.ThrowIfNull(specs);
        var files = new Dictionary<SourceKind, string>();
        foreach (var spec in specs)
        {
            if (Directory.Exists(spec))
            {
                // Kinds without a file in the directory keep their default (demo: trained; run: random, with a warning).
                foreach (var kind in Kinds)
                {
                    var p = Path.Combine(spec, kind.ToWireName() + ".safetensors");
                    if (File.Exists(p)) files[kind] = p;
                }

                continue;
            }

            var eq = spec.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new ArgumentException($"--model '{spec}': give KIND=PATH (tick, vitals, audio) or a directory");
            var name = spec[..eq];
            var k = name switch
            {
                "tick" or "ticks" => SourceKind.Tick,
                "vitals" => SourceKind.Vitals,
                "audio" => SourceKind.Audio,
                _ => throw new ArgumentException($"--model '{spec}': unknown kind '{name}' (tick, vitals, audio)"),
            };
            files[k] = spec[(eq + 1)..];
        }

        return files;
    }

    /// <summary>The configuration keys (<c>Models:TickModel</c>, ...) that load <paramref name="files"/> in the service.</summary>
    /// <param name="files">Kind → model file, from <see cref="Parse"/>.</param>
    /// <returns>Key → full path.</returns>
    public static Dictionary<string, string?> ToConfiguration(IReadOnlyDictionary<SourceKind, string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var config = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var (kind, path) in files)
        {
            var key = kind switch
            {
                SourceKind.Tick => nameof(ModelSettings.TickModel),
                SourceKind.Vitals => nameof(ModelSettings.VitalsModel),
                _ => nameof(ModelSettings.AudioModel),
            };
            config[$"{ModelSettings.Section}:{key}"] = Path.GetFullPath(path);
        }

        return config;
    }
}
