using System.Globalization;
using StreamLstm.Ingest.Generators;

namespace StreamLstm.Ingest.Replay;

/// <summary>
/// PhysioNet 2012 vitals (<c>record_id,minutes_since_icu_admission,parameter,value</c>) as vitals events: all rows of
/// one record and minute become one event; parameters map HR→hr, SaO2→spo2, RespRate→resp_rate,
/// SysABP/NISysABP→sbp, DiasABP/NIDiasABP→dbp, MAP/NIMAP→map, Temp→temp (when both the invasive and the cuff value
/// exist in a minute, the invasive arterial-line value wins). Values are replayed as recorded, artefacts included
/// (e.g. a 0 mmHg arterial pressure), so validation downstream sees real data. patient_id = <c>p-{record_id}</c>;
/// ts = base + minutes; all stays share the base, so the ICU's patients interleave as if admitted together.
/// </summary>
public static class VitalsReader
{
    /// <summary>The vitals file.</summary>
    public const string File = "vitals/physionet2012_vitals_200_patients.csv";

    /// <summary>Default base time: 2012-01-01T00:00:00Z.</summary>
    public const long DefaultBaseUnixMs = 1_325_376_000_000;

    /// <summary>Reads and groups the file.</summary>
    /// <param name="dataDir">The data folder.</param>
    /// <param name="baseUnixMs">Time of minute 0 for every stay.</param>
    /// <param name="bad">Where unreadable lines are recorded and skipped (null: the first one throws).</param>
    /// <returns>Records ordered by time, then record id.</returns>
    public static IReadOnlyList<ReplayRecord> Read(string dataDir, long baseUnixMs = DefaultBaseUnixMs, ReplayBadLines? bad = null)
    {
        var path = Path.Combine(dataDir, File);
        var groups = new Dictionary<(long Record, int Minute), Reading>();
        foreach (var (line, text) in CsvLines.Read(path, skipHeader: true))
        {
            var cells = text.Split(',');
            if (cells.Length < 4
                || !long.TryParse(cells[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var record)
                || !int.TryParse(cells[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var minute))
            {
                CsvLines.Bad(bad, $"{File} line {line}: expected 'record_id,minutes_since_icu_admission,parameter,value'");
                continue;
            }

            if (!CsvLines.TryNumber(path, line, cells[3], bad, out var value))
            {
                continue;
            }

            if (!groups.TryGetValue((record, minute), out var r))
            {
                groups[(record, minute)] = r = new Reading { Values = VitalValues.Missing };
            }

            switch (cells[2])
            {
                case "HR": r.Values.Hr = value; break;
                case "SaO2": r.Values.Spo2 = value; break;
                case "RespRate": r.Values.RespRate = value; break;
                case "Temp": r.Values.Temp = value; break;
                case "SysABP": r.Values.Sbp = value; r.InvasiveSbp = true; break;
                case "DiasABP": r.Values.Dbp = value; r.InvasiveDbp = true; break;
                case "MAP": r.Values.Map = value; r.InvasiveMap = true; break;
                case "NISysABP": if (!r.InvasiveSbp) { r.Values.Sbp = value; } break;
                case "NIDiasABP": if (!r.InvasiveDbp) { r.Values.Dbp = value; } break;
                case "NIMAP": if (!r.InvasiveMap) { r.Values.Map = value; } break;
                default: break; // other parameters are not vitals fields
            }
        }

        var buffer = new byte[EventJson.MaxEventBytes];
        var encoded = new Dictionary<long, (string Key, byte[] Encoded)>();
        var list = new List<ReplayRecord>(groups.Count);
        foreach (var ((record, minute), reading) in groups.OrderBy(g => g.Key.Minute).ThenBy(g => g.Key.Record))
        {
            if (reading.Values.PresentCount == 0)
            {
                continue;
            }

            if (!encoded.TryGetValue(record, out var key))
            {
                var id = "p-" + record.ToString(CultureInfo.InvariantCulture);
                encoded[record] = key = (id, EventJson.EncodeKey(id));
            }

            var ts = baseUnixMs + (minute * 60_000L);
            var n = EventJson.WriteVitals(buffer, key.Encoded, ts, reading.Values);
            list.Add(new ReplayRecord(key.Key, ts, buffer[..n]));
        }

        return list;
    }

    private sealed class Reading
    {
        public VitalValues Values;
        public bool InvasiveSbp;
        public bool InvasiveDbp;
        public bool InvasiveMap;
    }
}
