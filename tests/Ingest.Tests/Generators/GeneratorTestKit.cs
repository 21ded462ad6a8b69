using System.Buffers;
using System.Text.Json;
using StreamLstm.Ingest.Generators;

namespace StreamLstm.Ingest.Tests.Generators;

/// <summary>Runs a generator and keeps each event's JSON and label for assertions.</summary>
internal static class GeneratorTestKit
{
    public sealed record Item(GeneratedEvent Info, string Key, byte[] Json);

    public static List<Item> Take(IEventGenerator generator, int count)
    {
        var list = new List<Item>(count);
        var buffer = new ArrayBufferWriter<byte>();
        for (var i = 0; i < count; i++)
        {
            buffer.ResetWrittenCount();
            var info = generator.Next(buffer);
            list.Add(new Item(info, generator.GetKey(info.KeyIndex), buffer.WrittenSpan.ToArray()));
        }

        return list;
    }

    public static byte[] AllBytes(IEventGenerator generator, int count)
    {
        var buffer = new ArrayBufferWriter<byte>();
        for (var i = 0; i < count; i++)
        {
            generator.Next(buffer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static JsonElement Parse(byte[] json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    public static double? Opt(JsonElement e, string name) => e.TryGetProperty(name, out var p) ? p.GetDouble() : null;

    public static double Mean(IEnumerable<double> xs) => xs.DefaultIfEmpty(double.NaN).Average();

    public static double Std(IReadOnlyList<double> xs)
    {
        var m = xs.Average();
        return Math.Sqrt(xs.Sum(x => (x - m) * (x - m)) / Math.Max(1, xs.Count - 1));
    }
}
