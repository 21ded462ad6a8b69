using System.Text.Json;
using StreamLstm.Sink.Influx;

namespace StreamLstm.Sink.Tests.Support;

/// <summary>One private influxd (Debian's InfluxDB 1.x) for a test class; fails clearly when influxd is not installed.</summary>
public sealed class InfluxdFixture : IAsyncLifetime
{
    private LocalInfluxd? _server;

    public LocalInfluxd Server => _server ?? throw new InvalidOperationException("influxd not started");

    public async ValueTask InitializeAsync()
    {
        Assert.True(LocalInfluxd.FindBinary() is not null, "influxd is missing: install the Debian package 'influxdb' (InfluxDB 1.x) or set INFLUXD to its path.");
        _server = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

internal static class InfluxQuery
{
    /// <summary>Rows of the first series of the first result as column→value dictionaries (empty when no data).</summary>
    public static async Task<List<Dictionary<string, JsonElement>>> RowsAsync(LocalInfluxd server, string db, string q)
    {
        using var doc = await server.QueryAsync(q, db);
        var rows = new List<Dictionary<string, JsonElement>>();
        var result = doc.RootElement.GetProperty("results")[0];
        if (!result.TryGetProperty("series", out var series))
        {
            return rows;
        }

        foreach (var s in series.EnumerateArray())
        {
            var columns = s.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToArray();
            foreach (var v in s.GetProperty("values").EnumerateArray())
            {
                var row = new Dictionary<string, JsonElement>();
                var i = 0;
                foreach (var cell in v.EnumerateArray())
                {
                    row[columns[i++]] = cell.Clone();
                }

                rows.Add(row);
            }
        }

        return rows;
    }

    public static async Task<long> CountAsync(LocalInfluxd server, string db, string measurement, string field = "value")
    {
        var rows = await RowsAsync(server, db, $"SELECT count(\"{field}\") FROM \"{measurement}\"");
        return rows.Count == 0 ? 0 : rows[0]["count"].GetInt64();
    }
}
