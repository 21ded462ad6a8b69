using System.Globalization;
using System.Text;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Tests.TestSupport;

/// <summary>A tiny deterministic event maker for tests.</summary>
public static class Events
{
    public static byte[] Tick(string symbol, long ts, double price, double size) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"symbol\":\"{symbol}\",\"ts\":{ts},\"price\":{price:R},\"size\":{size:R}}}"));

    public static byte[] Vitals(string patient, long ts, double? hr, double? spo2) =>
        Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"{{\"patient_id\":\"{patient}\",\"ts\":{ts}{(hr is { } h ? $",\"hr\":{h:R}" : "")}{(spo2 is { } s ? $",\"spo2\":{s:R}" : "")},\"resp_rate\":16}}"));

    public static byte[] Audio(string stream, long ts, long frame, ReadOnlySpan<double> coeffs)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{{\"stream_id\":\"{stream}\",\"ts\":{ts},\"frame\":{frame},\"coeffs\":[");
        for (var i = 0; i < coeffs.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append(coeffs[i].ToString("R", CultureInfo.InvariantCulture));
        }

        sb.Append("]}");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>A mixed stream: ticks, vitals and audio for several keys, each key's timestamps increasing.</summary>
    public static List<(SourceKind Kind, string Key, byte[] Value)> Mixed(int count, int ticksKeys, int vitalsKeys, int audioKeys, int seed)
    {
        var rng = new Random(seed);
        var list = new List<(SourceKind, string, byte[])>(count);
        var prices = new Dictionary<string, double>();
        var t0 = 1_700_000_000_000L;
        var coeffs = new double[13];
        for (var i = 0; i < count; i++)
        {
            var ts = t0 + i * 10L;
            var which = rng.Next(ticksKeys + vitalsKeys + audioKeys);
            if (which < ticksKeys)
            {
                var sym = "SYM" + which;
                var p = prices.GetValueOrDefault(sym, 100.0 + which);
                p *= Math.Exp(0.001 * (rng.NextDouble() - 0.5));
                prices[sym] = p;
                list.Add((SourceKind.Tick, sym, Tick(sym, ts, Math.Round(p, 4), rng.Next(1, 500))));
            }
            else if (which < ticksKeys + vitalsKeys)
            {
                var pid = "P" + (which - ticksKeys);
                list.Add((SourceKind.Vitals, pid, Vitals(pid, ts, rng.NextDouble() < 0.2 ? null : 60 + rng.Next(40), rng.NextDouble() < 0.3 ? null : 90 + rng.Next(10))));
            }
            else
            {
                var sid = "A" + (which - ticksKeys - vitalsKeys);
                for (var c = 0; c < 13; c++) coeffs[c] = Math.Round(rng.NextDouble() * 10 - 5, 3);
                list.Add((SourceKind.Audio, sid, Audio(sid, ts, i, coeffs)));
            }
        }

        return list;
    }

    public static int PartitionOf(string key, int partitions) => (int)((uint)StableHash(key) % (uint)partitions);

    public static int StableHash(string s)
    {
        var h = 17;
        foreach (var ch in s) h = unchecked(h * 31 + ch);
        return h;
    }
}
