using System.Buffers.Binary;
using StreamLstm.Ingest.Audio;

namespace StreamLstm.Ingest.Tests.Audio;

public class WavReaderTests
{
    internal static byte[] Pcm16Wav(short[] samples, int rate, bool withListChunk = false)
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms);
        w.Write("RIFF"u8);
        w.Write(0);
        w.Write("WAVE"u8);
        w.Write("fmt "u8);
        w.Write(16);
        w.Write((short)1);
        w.Write((short)1);
        w.Write(rate);
        w.Write(rate * 2);
        w.Write((short)2);
        w.Write((short)16);
        if (withListChunk)
        {
            w.Write("LIST"u8);
            w.Write(3);
            w.Write(new byte[] { 1, 2, 3, 0 }); // odd size + pad byte
        }

        w.Write("data"u8);
        w.Write(samples.Length * 2);
        foreach (var s in samples)
        {
            w.Write(s);
        }

        w.Flush();
        var bytes = ms.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), bytes.Length - 8);
        return bytes;
    }

    [Fact]
    public void Pcm16_IsScaledToUnitRange_PastUnknownChunks()
    {
        var wav = WavReader.Parse(Pcm16Wav([0, 16384, -32768, 32767], 8000, withListChunk: true));
        Assert.Equal(8000, wav.SampleRate);
        Assert.Equal([0f, 0.5f, -1f, 32767 / 32768f], wav.Samples);
    }

    [Fact]
    public void NotAWav_FailsWithAClearMessage()
    {
        var ex = Assert.Throws<InvalidDataException>(() => WavReader.Parse("hello, this is not audio"u8));
        Assert.Contains("RIFF", ex.Message, StringComparison.Ordinal);
    }
}
