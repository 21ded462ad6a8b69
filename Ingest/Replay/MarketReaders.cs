using System.Globalization;
using StreamLstm.Ingest.Generators;

namespace StreamLstm.Ingest.Replay;

/// <summary>Readers for <c>market/</c>: daily closes, SPY minute bars and BTC/USD trades, all as tick events.</summary>
public static class MarketReaders
{
    /// <summary>File of daily adjusted closes.</summary>
    public const string DailyFile = "market/daily_close_20_tickers.csv";

    /// <summary>File of SPY one-minute bars.</summary>
    public const string SpyFile = "market/spy_minute_bars_2011-01.csv";

    /// <summary>File of Bitstamp BTC/USD trades.</summary>
    public const string BtcFile = "market/btc_usd_trades_bitstamp.csv";

    /// <summary>The daily bars are stamped at 21:00 UTC, the 16:00 New York close (EST).</summary>
    public static readonly TimeSpan DailyCloseUtc = TimeSpan.FromHours(21);

    /// <summary>The SPY bar times are US Eastern; January 2011 is EST, UTC−5.</summary>
    public static readonly TimeSpan SpyUtcOffset = TimeSpan.FromHours(-5);

    /// <summary>
    /// Daily closes: one tick per ticker with a value, per date (empty cells, before a listing, are skipped); symbol =
    /// column header, price = adjusted close, size = 1 (the file has no volume), ts = the date at 21:00 UTC.
    /// </summary>
    /// <param name="dataDir">The data folder.</param>
    /// <param name="bad">Where unreadable lines are recorded and skipped (null: the first one throws).</param>
    /// <returns>Records in time order, tickers in column order within a day.</returns>
    public static IEnumerable<ReplayRecord> ReadDailyCloses(string dataDir, ReplayBadLines? bad = null)
    {
        var path = Path.Combine(dataDir, DailyFile);
        string[]? symbols = null;
        byte[][]? encoded = null;
        var buffer = new byte[EventJson.MaxEventBytes];
        foreach (var (line, text) in CsvLines.Read(path, skipHeader: false))
        {
            var cells = text.Split(',');
            if (symbols is null)
            {
                symbols = cells[1..];
                encoded = [.. symbols.Select(EventJson.EncodeKey)];
                continue;
            }

            if (!DateTime.TryParseExact(cells[0], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var date))
            {
                CsvLines.Bad(bad, $"{DailyFile} line {line}: bad date '{cells[0]}'");
                continue;
            }

            var ts = new DateTimeOffset(date, TimeSpan.Zero).Add(DailyCloseUtc).ToUnixTimeMilliseconds();
            for (var i = 1; i < cells.Length && i <= symbols.Length; i++)
            {
                if (cells[i].Length == 0)
                {
                    continue;
                }

                if (!CsvLines.TryNumber(path, line, cells[i], bad, out var price))
                {
                    continue;
                }

                var n = EventJson.WriteTick(buffer, encoded![i - 1], ts, price, 1, double.NaN, double.NaN);
                yield return new ReplayRecord(symbols[i - 1], ts, buffer[..n]);
            }
        }
    }

    /// <summary>SPY minute bars: symbol SPY, price = bar close, size = bar volume, ts = bar time (US Eastern).</summary>
    /// <param name="dataDir">The data folder.</param>
    /// <param name="bad">Where unreadable lines are recorded and skipped (null: the first one throws).</param>
    /// <returns>Records in file (time) order.</returns>
    public static IEnumerable<ReplayRecord> ReadSpyMinuteBars(string dataDir, ReplayBadLines? bad = null)
    {
        var path = Path.Combine(dataDir, SpyFile);
        var key = EventJson.EncodeKey("SPY");
        var buffer = new byte[EventJson.MaxEventBytes];
        foreach (var (line, text) in CsvLines.Read(path, skipHeader: false))
        {
            // yyyyMMdd HHmmss;open;high;low;close;volume
            var cells = text.Split(';');
            if (cells.Length < 6 || !DateTime.TryParseExact(cells[0], "yyyyMMdd HHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var local))
            {
                CsvLines.Bad(bad, $"{SpyFile} line {line}: expected 'yyyyMMdd HHmmss;open;high;low;close;volume'");
                continue;
            }

            if (!CsvLines.TryNumber(path, line, cells[4], bad, out var close) || !CsvLines.TryNumber(path, line, cells[5], bad, out var volume))
            {
                continue;
            }

            var ts = new DateTimeOffset(local, SpyUtcOffset).ToUnixTimeMilliseconds();
            var n = EventJson.WriteTick(buffer, key, ts, close, volume, double.NaN, double.NaN);
            yield return new ReplayRecord("SPY", ts, buffer[..n]);
        }
    }

    /// <summary>BTC/USD trades: symbol BTCUSD, price and size (BTC amount) as traded, ts = unix seconds × 1000.</summary>
    /// <param name="dataDir">The data folder.</param>
    /// <param name="bad">Where unreadable lines are recorded and skipped (null: the first one throws).</param>
    /// <returns>Records in file (time) order.</returns>
    public static IEnumerable<ReplayRecord> ReadBtcTrades(string dataDir, ReplayBadLines? bad = null)
    {
        var path = Path.Combine(dataDir, BtcFile);
        var key = EventJson.EncodeKey("BTCUSD");
        var buffer = new byte[EventJson.MaxEventBytes];
        foreach (var (line, text) in CsvLines.Read(path, skipHeader: false))
        {
            var cells = text.Split(',');
            if (cells.Length < 3 || !long.TryParse(cells[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds))
            {
                CsvLines.Bad(bad, $"{BtcFile} line {line}: expected 'unix_seconds,price,amount'");
                continue;
            }

            if (!CsvLines.TryNumber(path, line, cells[1], bad, out var price) || !CsvLines.TryNumber(path, line, cells[2], bad, out var amount))
            {
                continue;
            }

            var ts = seconds * 1000;
            var n = EventJson.WriteTick(buffer, key, ts, price, amount, double.NaN, double.NaN);
            yield return new ReplayRecord("BTCUSD", ts, buffer[..n]);
        }
    }
}
