using StreamLstm.Streaming.Cli;
using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Tests.Eval.Forecast;

/// <summary>
/// <see cref="SeriesCsv"/> on files as other tools export them: delimiters, quotes, prices with signs and separators,
/// header names in another case, files without a header, other date forms and epochs, and files written newest first.
/// </summary>
public class SeriesCsvTests
{
    [Fact]
    public void QuotedCellsHoldingTheDelimiter_AndPricesWithSigns_AreRead()
    {
        var s = Read("\"Date\",\"Close\",\"Note\"\n\"2024-01-02\",\"$1,234.50\",\"up, again\"\n\"2024-01-03\",\"-$1,000\",\"say \"\"hi\"\"\"\n2024-01-04,12.5%,x\n");
        Assert.Equal([1234.5, -1000, 12.5], s.Values);
        Assert.Equal(0, s.SkippedRows);
    }

    [Theory]
    [InlineData(';')]
    [InlineData('\t')]
    [InlineData('|')]
    public void TheDelimiterIsTakenFromTheHeader(char d)
    {
        var s = Read($"timestamp{d}value\n2024-01-01 00:00:00{d}1.5\n2024-01-01 01:00:00{d}2.5\n");
        Assert.Equal([1.5, 2.5], s.Values);
    }

    [Fact]
    public void AColumnNameInAnotherCase_IsFound_WhenOnlyOneMatches()
    {
        var s = Read("Timestamp,Value\n2024-01-01,1\n2024-01-02,2\n");
        Assert.Equal([1.0, 2.0], s.Values);
        var e = Assert.Throws<FormatException>(() => Read("value,VALUE,timestamp\n1,2,2024-01-01\n", time: "timestamp", value: "Value"));
        Assert.Contains("no column 'Value'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AFileWithoutAHeader_IsReadByOneBasedPositions_FromItsFirstLine()
    {
        // SPY minute bars as ../shared/data has them: `yyyyMMdd HHmmss;open;high;low;close;volume`, no header.
        var s = Read("20110103 093000;126.7;126.8;126.6;126.75;1000\n20110103 093100;126.75;127;126.7;126.9;900\n", time: "1", value: "5");
        Assert.Equal([126.75, 126.9], s.Values);
        Assert.Equal(new DateTimeOffset(2011, 1, 3, 9, 31, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), s.TimesMs![1]);

        // With a header, positions skip it.
        var h = Read("when,price\n2024-01-01,3\n2024-01-02,4\n", time: "1", value: "2");
        Assert.Equal([3.0, 4.0], h.Values);
    }

    [Fact]
    public void EpochsAreDates_SmallNumbersAreNot()
    {
        var epoch = Read("t,v\n1316000000,1\n1316000060,2\n");
        Assert.Equal([1_316_000_000_000L, 1_316_000_060_000L], epoch.TimesMs!);
        var millis = Read("t,v\n1316000000000,1\n1316000060000,2\n");
        Assert.Equal([1_316_000_000_000L, 1_316_000_060_000L], millis.TimesMs!);
        Assert.Null(Read("t,v\n0,1\n30,2\n").TimesMs);
    }

    [Fact]
    public void MicrosecondAndNanosecondEpochs_AreTimes()
    {
        var micros = Read("t,v\n1316000000000000,1\n1316000060000000,2\n");
        Assert.Equal([1_316_000_000_000L, 1_316_000_060_000L], micros.TimesMs!);
        var nanos = Read("t,v\n1316000000000000000,1\n1316000060000000000,2\n");
        Assert.Equal([1_316_000_000_000L, 1_316_000_060_000L], nanos.TimesMs!);
    }

    [Fact]
    public void AFileInLatin1_IsReadAsLatin1_SoItsHeaderMatchesWhatTheUserTypes()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, System.Text.Encoding.Latin1.GetBytes("date;température\n2024-01-01;1,5\n2024-01-02;2,5\n"));
            var s = SeriesCsv.Read(path, "date", "température");
            Assert.True(s.ReadAsLatin1);
            Assert.Equal([1.5, 2.5], s.Values);
            File.WriteAllText(path, "date;température\n2024-01-01;1,5\n");
            Assert.False(SeriesCsv.Read(path, "date", "température").ReadAsLatin1);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void AMultiByteCharacterSplitAcrossReads_IsStillUtf8()
    {
        var path = Path.GetTempFileName();
        try
        {
            // 65,535 ASCII bytes put the two bytes of 'é' on both sides of the first 64 KiB read.
            File.WriteAllText(path, new string('a', 65_535) + "é\n");
            Assert.True(SeriesCsv.IsUtf8(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("2024-01-01T01:00:00+01:00", 0)]
    [InlineData("2024-01-01 01:00:00+01:00", 0)]
    [InlineData("2024-01-01T00:00:00.000Z", 0)]
    [InlineData("01/01/2024", 0)]
    [InlineData("1/1/2024 1:30 AM", 5_400_000)]
    [InlineData("2024/01/01 00:00", 0)]
    [InlineData("01.01.2024", 0)]
    [InlineData("20240101", 0)]
    public void DateForms_ReadAsUtc(string cell, long msAfterNewYear)
    {
        var s = Read($"t,v\n{cell},1\n");
        Assert.Equal(new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds() + msAfterNewYear, s.TimesMs![0]);
    }

    [Fact]
    public void AFileNewestFirst_IsPutInTimeOrder_WithMissingRowsInTheirPlace()
    {
        var s = Read("Date,Close\n01/04/2024,$4\n01/03/2024,\n01/02/2024,$2\n01/01/2024,$1\n");
        Assert.True(s.SortedByTime);
        Assert.Equal([1.0, 2.0, 4.0], s.Values);
        Assert.Equal(["01/01/2024", "01/02/2024", "01/04/2024"], s.Timestamps);
        Assert.Equal((2, "01/03/2024"), Assert.Single(s.Missing));
    }

    [Fact]
    public void OnlyAKeyOutOfOrder_IsSorted_AndKeysStayInterleavedAsTheyWere()
    {
        var s = Read("id,minute,v\na,0,1\nb,5,10\na,2,2\nb,3,9\na,4,3\n", time: "minute", value: "v", key: "id");
        Assert.True(s.SortedByTime);
        Assert.Equal(["a", "b", "a", "b", "a"], s.Keys!);
        Assert.Equal([1.0, 9, 2, 10, 3], s.Values);

        var inOrder = Read("id,minute,v\na,5,1\nb,0,10\na,6,2\n", time: "minute", value: "v", key: "id");
        Assert.False(inOrder.SortedByTime);
        Assert.Equal([1.0, 10, 2], inOrder.Values);
    }

    [Fact]
    public void AnUnreadableTime_NamesTheLine()
    {
        var e = Assert.Throws<FormatException>(() => Read("t,v\n2024-01-01,1\nyesterday,2\n"));
        Assert.Contains(":3: time 'yesterday'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InASemicolonFile_ACommaIsTheDecimalMark_InACommaFileAThousandsSeparator()
    {
        // European exports: `;` between cells, `,` before the decimals (0,156 was read as 156). Dots before the comma group thousands.
        var eu = Read("Datum;Wert\n2024-01-01;0,156\n2024-01-02;1.234,5\n2024-01-03;-2,5\n2024-01-04;7\n");
        Assert.Equal([0.156, 1234.5, -2.5, 7], eu.Values);
        // A comma before the last dot still groups thousands; two commas are thousands too.
        Assert.Equal([1234.5, 1234567], Read("d;v\n2024-01-01;1,234.5\n2024-01-02;1,234,567\n").Values);
        // In a comma-delimited file a quoted "1,234" stays 1234, as before.
        Assert.Equal([1234.0], Read("d,v\n2024-01-01,\"1,234\"\n").Values);
        Assert.True(CsvCells.TryParseNumber("0,5", decimalComma: true, out var half));
        Assert.Equal(0.5, half);
    }

    [Fact]
    public void ARowWithAnEmptyTime_IsKeptAsAMissingRow_AndCounted()
    {
        var s = Read("t,v\n,9\n1,1\n2,2\n,9\n3,3\n");
        Assert.Equal([1.0, 2, 3], s.Values);
        Assert.Equal(2, s.RowsWithoutTime);
        Assert.Equal(2, s.FirstRowWithoutTime);
        Assert.Equal(2, s.SkippedRows);
        // Both keep their place in the predictions file: one before row 0, one before row 2.
        Assert.Equal([0, 2], s.Missing.Select(m => m.Before));
    }

    [Fact]
    public void AFilterThatMatchesNoRow_SaysSo_AndAFileOfNoNumbersSaysWhy()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "t,kind,v\n1,a,1\n2,a,2\n");
            var e = Assert.Throws<FormatException>(() => SeriesCsv.Read(path, "t", "v", [("kind", "b")]));
            Assert.Contains("no row matches --where kind=b (2 data rows read)", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }

        Assert.Contains("the file has no data rows", Assert.Throws<FormatException>(() => Read("t,v\n")).Message, StringComparison.Ordinal);
        Assert.Contains("2 data row(s)", Assert.Throws<FormatException>(() => Read("t,v\n1,abc\n2,NA\n")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void APositionPastTheLastColumn_IsNamed()
    {
        // Column 9 of a 3-column file without a header was reported as "no column '1'".
        var e = Assert.Throws<FormatException>(() => Read("20110103 093000;126.7;1000\n", time: "1", value: "9"));
        Assert.Contains("no column 9: the first line has 3 column(s) (20110103 093000, 126.7, 1000) (delimiter ';')", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ABomCrlfTrailingDelimiterAndBlankLines_ReadLikeAPlainFile()
    {
        var plain = Read("t,v\n1,1.5\n2,2.5\n3,-1\n");
        var odd = Read("\uFEFFt,v,\r\n1,1.5,\r\n2,2.5,x,y\r\n3,-1\r\n\r\n  \r\n", time: "t", value: "v");
        Assert.Equal(plain.Values, odd.Values);
        Assert.Equal(plain.Timestamps, odd.Timestamps);
        Assert.Equal(0, odd.SkippedRows);
    }

    [Fact]
    public void EvalForecast_OnAFileNewestFirst_WritesItsRowsInTimeOrder()
    {
        var dir = Directory.CreateTempSubdirectory("evalfc-");
        try
        {
            var sine = ForecastTestData.Sine(120, 12, 0.5);
            var csv = Path.Combine(dir.FullName, "desc.csv");
            using (var w = new StreamWriter(csv))
            {
                w.Write("Timestamp;Close\n");
                for (var i = sine.Count - 1; i >= 0; i--) w.Write(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{sine.Timestamps[i]};{sine.Values[i]:R}\n"));
            }

            var pred = Path.Combine(dir.FullName, "p.csv");
            string[] args = ["eval", "forecast", "--csv", csv, "--time-column", "timestamp", "--value-column", "close", "--horizons", "2", "--predictions", pred, "--json", Path.Combine(dir.FullName, "e.json"), "--hidden", "4"];
            var output = new StringWriter();
            var error = new StringWriter();
            var code = CommandLineApp.Build().Parse(args).Invoke(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
            Assert.True(code == 0, $"exit {code}: {error}");
            Assert.Contains("not in time order", output.ToString(), StringComparison.Ordinal);
            var lines = File.ReadAllLines(pred);
            Assert.Equal(sine.Count + 1, lines.Length);
            for (var i = 0; i < sine.Count; i++) Assert.StartsWith(sine.Timestamps[i] + ",", lines[i + 1], StringComparison.Ordinal);
            Assert.Contains("\"sorted_by_time\": true", File.ReadAllText(Path.Combine(dir.FullName, "e.json")), StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(true);
        }
    }

    private static SeriesData Read(string text, string time = "", string value = "", string? key = null)
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, text);
            var header = text[..text.IndexOf('\n', StringComparison.Ordinal)];
            var names = CsvCells.Split(header, CsvCells.DetectDelimiter(header));
            return SeriesCsv.Read(path, time.Length > 0 ? time : names[0], value.Length > 0 ? value : names[1], keyColumn: key);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
