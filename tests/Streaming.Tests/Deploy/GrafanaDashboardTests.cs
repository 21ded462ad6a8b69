using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Influx;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Outputs;
using static StreamLstm.Streaming.Tests.Deploy.DeployFiles;

namespace StreamLstm.Streaming.Tests.Deploy;

/// <summary>
/// Every query of the provisioned Grafana dashboard (panels, annotations, template variables) runs against a real influxd
/// over points written by the service's own line-protocol writer (<see cref="SinkSchema"/>, nanosecond precision as
/// shipped), with <c>$kind</c>, <c>$key</c>, <c>$timeFilter</c> and <c>$__interval</c> substituted as Grafana does; each
/// returns exactly the points written for the chosen kind and key.
/// </summary>
public sealed partial class GrafanaDashboardTests : IAsyncLifetime
{
    private const string Db = "streamlstm";
    private const double Z95 = 1.959964;
    private const double Z80 = 1.281552;

    /// <summary>Points are written 1 s apart on whole seconds, so a 1 s <c>$__interval</c> puts each in its own bucket.</summary>
    private static readonly long BaseMs = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000 * 1000) - 300_000;

    private LocalInfluxd? _influx;
    private JsonDocument? _dashboard;

    private LocalInfluxd Influx => _influx!;

    public async ValueTask InitializeAsync()
    {
        Assert.True(LocalInfluxd.FindBinary() is not null, "influxd is missing: install the Debian package 'influxdb' (InfluxDB 1.x) or set INFLUXD to its path.");
        _influx = await LocalInfluxd.StartNewAsync(TimeSpan.FromSeconds(60));
        await Influx.CreateDatabaseAsync(Db);
        await WriteAsync(Points());
        _dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(InDeploy("grafana", "dashboards", "streamlstm.json")));
    }

    public async ValueTask DisposeAsync()
    {
        _dashboard?.Dispose();
        if (_influx is not null) await _influx.DisposeAsync();
    }

    [Fact]
    public void Dashboard_FollowsTheSchema_AndHasThePanelsUsersNeed()
    {
        var root = _dashboard!.RootElement;
        Assert.True(root.GetProperty("schemaVersion").GetInt32() >= 36, "dashboard phase: schemaVersion");
        Assert.False(string.IsNullOrEmpty(root.GetProperty("uid").GetString()));
        var ids = new HashSet<int>();
        foreach (var panel in root.GetProperty("panels").EnumerateArray())
        {
            Assert.True(ids.Add(panel.GetProperty("id").GetInt32()), "dashboard phase: duplicate panel id");
            foreach (var p in new[] { "type", "title", "gridPos", "targets", "datasource" }) Assert.True(panel.TryGetProperty(p, out _), $"dashboard phase: panel {panel.GetProperty("id")} has no {p}");
            var refs = panel.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("refId").GetString()).ToList();
            Assert.Equal(refs.Count, refs.Distinct().Count());
        }

        var titles = root.GetProperty("panels").EnumerateArray().Select(p => p.GetProperty("title").GetString()!).ToList();
        foreach (var needle in new[] { "Forecast band vs actual", "Anomaly score", "Alerts", "throughput", "lag" })
        {
            Assert.Contains(titles, t => t.Contains(needle, StringComparison.OrdinalIgnoreCase));
        }

        var variables = root.GetProperty("templating").GetProperty("list").EnumerateArray().Select(v => v.GetProperty("name").GetString()).ToList();
        Assert.Equal(new[] { "kind", "key" }, variables);
        Assert.Contains(root.GetProperty("annotations").GetProperty("list").EnumerateArray(), a => a.TryGetProperty("query", out var q) && q.GetString()!.Contains("\"alert\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TemplateVariables_ListTheKinds_AndTheKeysOfTheChosenKind()
    {
        var vars = _dashboard!.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!, v => v.GetProperty("query").GetString()!);
        var kinds = (await QueryAsync(Substitute(vars["kind"], "tick", "")))[0].Rows.Select(r => r["value"].GetString()).Order().ToList();
        Assert.Equal(new[] { "tick", "vitals" }, kinds);
        var tickKeys = (await QueryAsync(Substitute(vars["key"], "tick", "")))[0].Rows.Select(r => r["value"].GetString()).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(new[] { "AAPL", "BRK.B" }, tickKeys);
        var vitalsKeys = (await QueryAsync(Substitute(vars["key"], "vitals", "")))[0].Rows.Select(r => r["value"].GetString()).ToList();
        Assert.Equal(new[] { "patient 1" }, vitalsKeys);
    }

    [Theory]
    [InlineData("tick", "BRK.B")]
    [InlineData("vitals", "patient 1")]
    public async Task ForecastBandPanel_ReturnsTheKeysPoints_WithBands(string kind, string key)
    {
        var expected = Forecasts().Where(f => f.Kind.ToWireName() == kind && f.Key == key).ToList();
        var series = Assert.Single(await QueryAsync(Substitute(PanelQuery(1), kind, key)));
        Assert.Equal(expected.Count, series.Rows.Count);
        foreach (var (row, f) in series.Rows.Zip(expected))
        {
            Assert.Equal(f.TimeMs, row["time"].GetInt64());
            Assert.Equal(f.Value, row["actual"].GetDouble(), 9);
            Assert.Equal(f.Mu, row["forecast"].GetDouble(), 5);
            Assert.Equal(f.Mu + (Z95 * f.Sigma), row["hi95"].GetDouble(), 4);
            Assert.Equal(f.Mu - (Z95 * f.Sigma), row["lo95"].GetDouble(), 4);
            Assert.Equal(f.Mu + (Z80 * f.Sigma), row["hi80"].GetDouble(), 4);
            Assert.Equal(f.Mu - (Z80 * f.Sigma), row["lo80"].GetDouble(), 4);
        }
    }

    [Fact]
    public async Task ScorePanel_ReturnsTheKeysScores()
    {
        var expected = Forecasts().Where(f => f.Key == "BRK.B").ToList();
        var series = Assert.Single(await QueryAsync(Substitute(PanelQuery(2), "tick", "BRK.B")));
        Assert.Equal(expected.Select(f => f.Score), series.Rows.Select(r => r["score"].GetDouble()));
    }

    [Fact]
    public async Task AlertTableAndAnnotations_ReturnTheKeysAlertsOnly()
    {
        var table = Assert.Single(await QueryAsync(Substitute(PanelQuery(3), "tick", "BRK.B")));
        Assert.Equal(new[] { "resolved", "raised" }, table.Rows.Select(r => r["event"].GetString()));
        Assert.All(table.Rows, r => Assert.Equal("tick/BRK.B/" + (BaseMs + 2000), r["alert_id"].GetString()));
        Assert.Empty(await QueryAsync(Substitute(PanelQuery(3), "tick", "AAPL")));

        var annotations = _dashboard!.RootElement.GetProperty("annotations").GetProperty("list").EnumerateArray()
            .Where(a => a.TryGetProperty("query", out _)).ToDictionary(a => a.GetProperty("name").GetString()!, a => a);
        Assert.Equal(2, annotations.Count);
        foreach (var (name, time) in new[] { ("Alert raised", BaseMs + 2000), ("Alert resolved", BaseMs + 4000) })
        {
            var a = annotations[name];
            var series = Assert.Single(await QueryAsync(Substitute(a.GetProperty("query").GetString()!, "tick", "BRK.B")));
            var row = Assert.Single(series.Rows);
            Assert.Equal(time, row["time"].GetInt64());
            Assert.True(row.ContainsKey(a.GetProperty("textColumn").GetString()!), $"annotation phase: {name} has no text column");
            Assert.Equal("critical", row[a.GetProperty("tagsColumn").GetString()!].GetString());
        }
    }

    [Fact]
    public async Task PipelinePanels_SumThroughputOverInstances_AndShowLagPerKind()
    {
        var throughput = await QueryAsync(Substitute(PanelQuery(4), "tick", "BRK.B"));
        var tick = Assert.Single(throughput, s => s.Tags["source"] == "tick");
        Assert.Equal(new[] { 150.0, 150.0 }, tick.Rows.Select(r => r["sum"].GetDouble()));
        Assert.Equal(new[] { 20.0, 20.0 }, Assert.Single(throughput, s => s.Tags["source"] == "vitals").Rows.Select(r => r["sum"].GetDouble()));
        Assert.DoesNotContain(throughput, s => s.Tags["source"] == "all");

        var lag = await QueryAsync(Substitute(PanelQuery(5), "tick", "BRK.B"));
        Assert.Equal(new[] { 40.0, 40.0 }, Assert.Single(lag, s => s.Tags["source"] == "tick").Rows.Select(r => r["max"].GetDouble()));

        // Consumer lag -1 means "unknown" and is left out.
        var consumerLag = await QueryAsync(Substitute(PanelQuery(6), "tick", "BRK.B"));
        Assert.Equal(new[] { 12.0, 12.0 }, Assert.Single(consumerLag, s => s.Tags["instance"] == "pod-0").Rows.Select(r => r["max"].GetDouble()));
        Assert.DoesNotContain(consumerLag, s => s.Tags["instance"] == "pod-1");

        var raised = await QueryAsync(Substitute(PanelQuery(7), "tick", "BRK.B"));
        Assert.Equal(1, Assert.Single(raised, s => s.Tags["source"] == "tick").Rows.Sum(r => r["count"].GetInt64()));
        Assert.Equal(1, Assert.Single(raised, s => s.Tags["source"] == "vitals").Rows.Sum(r => r["count"].GetInt64()));
    }

    [Fact]
    public async Task EveryQueryInTheDashboard_RunsAndReturnsData()
    {
        var queries = new List<(string Where, string Query)>();
        foreach (var panel in _dashboard!.RootElement.GetProperty("panels").EnumerateArray())
        {
            foreach (var t in panel.GetProperty("targets").EnumerateArray())
            {
                queries.Add(($"panel '{panel.GetProperty("title").GetString()}' {t.GetProperty("refId").GetString()}", t.GetProperty("query").GetString()!));
            }
        }

        foreach (var a in _dashboard.RootElement.GetProperty("annotations").GetProperty("list").EnumerateArray().Where(a => a.TryGetProperty("query", out _)))
        {
            queries.Add(($"annotation '{a.GetProperty("name").GetString()}'", a.GetProperty("query").GetString()!));
        }

        foreach (var v in _dashboard.RootElement.GetProperty("templating").GetProperty("list").EnumerateArray())
        {
            queries.Add(($"variable '{v.GetProperty("name").GetString()}'", v.GetProperty("query").GetString()!));
        }

        Assert.True(queries.Count >= 12, $"dashboard phase: only {queries.Count} queries found");
        foreach (var (where, query) in queries)
        {
            var substituted = Substitute(query, "tick", "BRK.B");
            Assert.DoesNotMatch(@"\$[A-Za-z_]", substituted);
            var series = await QueryAsync(substituted);
            Assert.True(series.Sum(s => s.Rows.Count) > 0, $"query phase: {where} returned no rows: {substituted}");
        }
    }

    /// <summary>
    /// Grafana's InfluxQL interpolation: <c>$timeFilter</c> becomes an absolute epoch-ms range, <c>$__interval</c> the
    /// group-by interval, and template variables inside <c>/…/</c> regex literals are regex-escaped (with <c>/</c>).
    /// </summary>
    private static string Substitute(string query, string kind, string key)
    {
        var from = BaseMs - 60_000;
        var to = BaseMs + 120_000;
        return query
            .Replace("$timeFilter", $"time >= {from}ms and time <= {to}ms", StringComparison.Ordinal)
            .Replace("$__interval", "1s", StringComparison.Ordinal)
            .Replace("$kind", EscapeRegex(kind), StringComparison.Ordinal)
            .Replace("$key", EscapeRegex(key), StringComparison.Ordinal);
    }

    private static string EscapeRegex(string value) => RegexSpecial().Replace(value, @"\$0");

    [GeneratedRegex(@"[\\^$*+?.()|\[\]{}/]")]
    private static partial Regex RegexSpecial();

    private string PanelQuery(int id) => _dashboard!.RootElement.GetProperty("panels").EnumerateArray()
        .Single(p => p.GetProperty("id").GetInt32() == id).GetProperty("targets")[0].GetProperty("query").GetString()!;

    private sealed record Series(Dictionary<string, string> Tags, List<Dictionary<string, JsonElement>> Rows);

    private async Task<List<Series>> QueryAsync(string q)
    {
        using var doc = await Influx.QueryAsync(q, Db);
        var list = new List<Series>();
        var result = doc.RootElement.GetProperty("results")[0];
        if (!result.TryGetProperty("series", out var all)) return list;
        foreach (var s in all.EnumerateArray())
        {
            var tags = s.TryGetProperty("tags", out var t) ? t.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!) : [];
            var columns = s.GetProperty("columns").EnumerateArray().Select(c => c.GetString()!).ToArray();
            var rows = s.GetProperty("values").EnumerateArray()
                .Select(v => v.EnumerateArray().Select((cell, i) => (columns[i], cell.Clone())).ToDictionary(x => x.Item1, x => x.Item2)).ToList();
            list.Add(new Series(tags, rows));
        }

        return list;
    }

    private sealed record Forecast(SourceKind Kind, string Key, long TimeMs, double Value, float Mu, float Sigma, double Score);

    /// <summary>Two tick keys (one with a regex metacharacter) and a vitals key with a space, 1 s apart.</summary>
    private static List<Forecast> Forecasts()
    {
        var list = new List<Forecast>();
        for (var i = 0; i < 5; i++) list.Add(new(SourceKind.Tick, "BRK.B", BaseMs + (i * 1000), 400 + i, 400.5f + i, 0.5f + (0.1f * i), 0.25 * (i + 1)));
        for (var i = 0; i < 3; i++) list.Add(new(SourceKind.Tick, "AAPL", BaseMs + (i * 1000), 190 + i, 190.25f + i, 0.75f, 9));
        for (var i = 0; i < 4; i++) list.Add(new(SourceKind.Vitals, "patient 1", BaseMs + (i * 1000), 72 + i, 71.5f + i, 2.5f, 1 + i));
        return list;
    }

    private static byte[] Points()
    {
        using var buffer = new LineProtocolBuffer(WritePrecision.Nanoseconds);
        foreach (var group in Forecasts().GroupBy(f => f.Kind))
        {
            var rows = group.ToList();
            var batch = new ForecastBatch(group.Key, horizons: 2, capacity: rows.Count) { ModelVersion = "v1", Count = rows.Count };
            for (var r = 0; r < rows.Count; r++)
            {
                batch.Keys[r] = rows[r].Key;
                batch.TimestampsMs[r] = rows[r].TimeMs;
                batch.Observed[r] = rows[r].Value;
                batch.Offsets[r] = r;
                batch.Mu[r * 2] = rows[r].Mu;
                batch.Mu[(r * 2) + 1] = rows[r].Mu + 1;
                batch.Sigma[r * 2] = rows[r].Sigma;
                batch.Sigma[(r * 2) + 1] = rows[r].Sigma * 2;
                var score = new RowScore { HasScore = true, Score = rows[r].Score, PAnomaly = 0.5, Nll = 1 };
                SinkSchema.WriteForecast(buffer, batch, r, score);
            }
        }

        SinkSchema.WriteAlert(buffer, Alert(SourceKind.Tick, "BRK.B", AlertEventKind.Raised, BaseMs + 2000, BaseMs + 2000));
        SinkSchema.WriteAlert(buffer, Alert(SourceKind.Tick, "BRK.B", AlertEventKind.Resolved, BaseMs + 2000, BaseMs + 4000));
        SinkSchema.WriteAlert(buffer, Alert(SourceKind.Vitals, "patient 1", AlertEventKind.Raised, BaseMs + 1000, BaseMs + 1000));

        // Two instances for two seconds: tick 100 + 50 events/s, vitals 20; pod-1 does not know its consumer lag.
        var counters = new SinkCounters();
        for (var s = 0; s < 2; s++)
        {
            var now = BaseMs + (s * 1000);
            SinkSchema.WritePipeline(buffer, new PipelineStats(SourceKind.Tick, 100, 40, 12, 16), counters, "pod-0", now);
            SinkSchema.WritePipeline(buffer, new PipelineStats(SourceKind.Tick, 50, 30, -1, 16), counters, "pod-1", now);
            SinkSchema.WritePipeline(buffer, new PipelineStats(SourceKind.Vitals, 20, 900, 12, 4), counters, "pod-0", now);
            SinkSchema.WritePipeline(buffer, new PipelineStats(null, 170, 900, 12, 12), counters, "pod-0", now);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static AlertEvent Alert(SourceKind kind, string key, AlertEventKind what, long startMs, long eventMs) => new()
    {
        AlertId = $"{kind.ToWireName()}/{key}/{startMs}",
        Kind = what,
        Severity = AlertSeverity.Critical,
        Source = kind,
        Key = key,
        Model = "v1",
        StartMs = startMs,
        EventMs = eventMs,
        PeakScore = 7,
        Score = what == AlertEventKind.Resolved ? 1 : 7,
        Observed = 1,
        ForecastMu = 0,
        ForecastSigma = 0.1,
        ForecastMadeAtMs = eventMs - 1000,
        EmittedAt = DateTimeOffset.FromUnixTimeMilliseconds(eventMs),
    };

    private async Task WriteAsync(byte[] body)
    {
        using var http = new HttpClient();
        using var content = new ByteArrayContent(body);
        using var response = await http.PostAsync(new Uri($"{Influx.Url}/write?db={Db}&precision=ns"), content);
        Assert.True(response.IsSuccessStatusCode, $"write phase: HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
    }
}
