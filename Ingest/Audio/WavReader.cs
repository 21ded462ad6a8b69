using System.Buffers.Binary;

namespace StreamLstm.Ingest.Audio;

/// <summary>A decoded PCM WAV file: mono samples scaled to [-1, 1) and the sample rate.</summary>
/// <param name="SampleRate">Samples per second.</param>
/// <param name="Samples">Samples (channel 0 when the file has several).</param>
public sealed record WavAudio(int SampleRate, float[] Samples);

/// <summary>Reads RIFF/WAVE files with 8/16/24/32-bit integer PCM or 32-bit float samples.</summary>
public static class WavReader
{
    /// <summary>Reads a file.</summary>
    /// <param name="path">Path to a .wav file.</param>
    /// <returns>The audio.</returns>
    public static WavAudio Read(string path)
    {
        try
        {
            return Parse(File.ReadAllBytes(path));
        }
        catch (InvalidDataException ex)
        {
            throw new InvalidDataException($"{path}: {ex.Message}", ex);
        }
    }

    /// <summary>Parses WAV bytes.</summary>
    /// <param name="data">The whole file.</param>
    /// <returns>The audio.</returns>
    public static WavAudio Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < 12 || !data[..4].SequenceEqual("RIFF"u8) || !data.Slice(8, 4).SequenceEqual("WAVE"u8))
        {
            throw new InvalidDataException("not a RIFF/WAVE file");
        }

        int format = 0, channels = 0, rate = 0, bits = 0;
        var pos = 12;
        while (pos + 8 <= data.Length)
        {
            var id = data.Slice(pos, 4);
            var size = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(pos + 4, 4)), (uint)(data.Length - pos - 8));
            var body = data.Slice(pos + 8, size);
            if (id.SequenceEqual("fmt "u8))
            {
                if (size < 16)
                {
                    throw new InvalidDataException("fmt chunk too short");
                }

                format = BinaryPrimitives.ReadUInt16LittleEndian(body);
                channels = BinaryPrimitives.ReadUInt16LittleEndian(body[2..]);
                rate = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
                bits = BinaryPrimitives.ReadUInt16LittleEndian(body[14..]);
                if (format == 0xFFFE && size >= 26)
                {
                    format = BinaryPrimitives.ReadUInt16LittleEndian(body[24..]); // WAVE_FORMAT_EXTENSIBLE sub-format
                }
            }
            else if (id.SequenceEqual("data"u8))
            {
                if (channels == 0)
                {
                    throw new InvalidDataException("data chunk before fmt chunk");
                }

                return new WavAudio(rate, Decode(body, format, channels, bits));
            }

            pos += 8 + size + (size & 1);
        }

        throw new InvalidDataException("no data chunk");
    }

    private static float[] Decode(ReadOnlySpan<byte> body, int format, int channels, int bits)
    {
        var bytes = bits / 8;
        if (bytes == 0 || channels < 1)
        {
            throw new InvalidDataException($"unsupported sample layout ({bits} bits, {channels} channels)");
        }

        var count = body.Length / (bytes * channels);
        var samples = new float[count];
        for (var i = 0; i < count; i++)
        {
            var s = body.Slice(i * bytes * channels, bytes);
            samples[i] = (format, bits) switch
            {
                (1, 8) => (s[0] - 128) / 128f,
                (1, 16) => BinaryPrimitives.ReadInt16LittleEndian(s) / 32768f,
                (1, 24) => ((s[0] << 8 | s[1] << 16 | s[2] << 24) >> 8) / 8388608f,
                (1, 32) => BinaryPrimitives.ReadInt32LittleEndian(s) / 2147483648f,
                (3, 32) => BinaryPrimitives.ReadSingleLittleEndian(s),
                _ => throw new InvalidDataException($"unsupported WAV format {format} with {bits} bits"),
            };
        }

        return samples;
    }
}
