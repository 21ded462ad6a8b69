using System.Globalization;
using StreamLstm.Ingest.Audio;
using StreamLstm.Ingest.Generators;

namespace StreamLstm.Ingest.Replay;

/// <summary>How FSDD recordings map to audio streams.</summary>
public enum AudioStreamMode
{
    /// <summary>One stream per speaker (<c>fsdd-{speaker}</c>); frame numbers continue across that speaker's recordings.</summary>
    PerSpeaker,

    /// <summary>One stream per recording (<c>fsdd-{digit}_{speaker}_{take}</c>); frame numbers restart at 0.</summary>
    PerRecording,
}

/// <summary>
/// Free Spoken Digit Dataset WAVs (<c>{digit}_{speaker}_{take}.wav</c>) as MFCC audio frames (see <see cref="Mfcc"/>).
/// Timeline: speakers talk in parallel from the base time; each speaker's recordings follow one another (ordered by
/// digit, then take) with no gap. Frame ts = base + (recording start + frame × hop) in ms. Coefficients and energy are
/// written with 5 decimals.
/// </summary>
public static class FsddReader
{
    /// <summary>The recordings folder.</summary>
    public const string Folder = "audio/fsdd_recordings";

    /// <summary>Reads, computes MFCC and orders every frame by time (ties by stream order).</summary>
    /// <param name="dataDir">The data folder.</param>
    /// <param name="mode">Stream per speaker or per recording.</param>
    /// <param name="baseUnixMs">Time of the first sample.</param>
    /// <param name="mfccOptions">MFCC settings (the sample rate is taken from each file).</param>
    /// <returns>Records in time order.</returns>
    public static IReadOnlyList<ReplayRecord> Read(string dataDir, AudioStreamMode mode = AudioStreamMode.PerSpeaker, long baseUnixMs = VitalsReader.DefaultBaseUnixMs, MfccOptions? mfccOptions = null)
    {
        var folder = Path.Combine(dataDir, Folder);
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"FSDD recordings not found: {folder}");
        }

        var files = Directory.GetFiles(folder, "*.wav")
            .Select(f => (Path: f, Name: Parse(Path.GetFileNameWithoutExtension(f))))
            .OrderBy(f => f.Name.Speaker, StringComparer.Ordinal).ThenBy(f => f.Name.Digit).ThenBy(f => f.Name.Take)
            .ToList();
        var records = new List<(long Ts, int Order, ReplayRecord Record)>();
        var extractors = new Dictionary<int, Mfcc>();
        var buffer = new byte[EventJson.MaxEventBytes];
        var speakerClock = new Dictionary<string, double>(); // seconds from base
        var order = 0;
        foreach (var group in files.GroupBy(f => f.Name.Speaker))
        {
            var streamOrder = order;
            long frame = 0;
            foreach (var (path, name) in group)
            {
                var wav = WavReader.Read(path);
                if (!extractors.TryGetValue(wav.SampleRate, out var mfcc))
                {
                    var o = mfccOptions ?? new MfccOptions();
                    extractors[wav.SampleRate] = mfcc = new Mfcc(new MfccOptions
                    {
                        SampleRate = wav.SampleRate, WindowSeconds = o.WindowSeconds, HopSeconds = o.HopSeconds, Coefficients = o.Coefficients,
                        MelFilters = o.MelFilters, LowHz = o.LowHz, HighHz = o.HighHz, PreEmphasis = o.PreEmphasis, LogFloor = o.LogFloor,
                    });
                }

                var frames = mfcc.FrameCount(wav.Samples.Length);
                var coeffs = new float[frames * mfcc.Coefficients];
                var energy = new float[frames];
                mfcc.Compute(wav.Samples, coeffs, energy);
                var id = mode == AudioStreamMode.PerSpeaker ? $"fsdd-{name.Speaker}" : $"fsdd-{name.Digit}_{name.Speaker}_{name.Take}";
                var key = EventJson.EncodeKey(id);
                if (mode == AudioStreamMode.PerRecording)
                {
                    frame = 0;
                    streamOrder = order++;
                }

                var start = speakerClock.GetValueOrDefault(name.Speaker);
                for (var f = 0; f < frames; f++)
                {
                    var ts = baseUnixMs + (long)Math.Round((start + ((double)f * mfcc.HopSamples / wav.SampleRate)) * 1000);
                    var n = EventJson.WriteAudioFrame(buffer, key, ts, frame++, coeffs.AsSpan(f * mfcc.Coefficients, mfcc.Coefficients), energy[f], default, decimals: 5);
                    records.Add((ts, streamOrder, new ReplayRecord(id, ts, buffer[..n])));
                }

                speakerClock[name.Speaker] = start + ((double)wav.Samples.Length / wav.SampleRate);
            }

            if (mode == AudioStreamMode.PerSpeaker)
            {
                order++;
            }
        }

        // Stable merge of all streams by time; within a stream frames are already ascending.
        return [.. records.OrderBy(r => r.Ts).ThenBy(r => r.Order).Select(r => r.Record)];
    }

    /// <summary>Splits <c>{digit}_{speaker}_{take}</c>.</summary>
    /// <param name="name">File name without extension.</param>
    /// <returns>The parts.</returns>
    public static (int Digit, string Speaker, int Take) Parse(string name)
    {
        var parts = name.Split('_');
        if (parts.Length != 3
            || !int.TryParse(parts[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var digit)
            || !int.TryParse(parts[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var take))
        {
            throw new InvalidDataException($"FSDD file name '{name}' is not '{{digit}}_{{speaker}}_{{take}}'");
        }

        return (digit, parts[1], take);
    }
}
