namespace StreamLstm.Ingest.Replay;

/// <summary>Line reading with the file name and line number in every error.</summary>
internal static class CsvLines
{
    public static IEnumerable<(int Line, string Text)> Read(string path, bool skipHeader)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Replay data file not found: {path}", path);
        }

        var n = 0;
        foreach (var line in File.ReadLines(path))
        {
            n++;
            if ((skipHeader && n == 1) || string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            yield return (n, line);
        }
    }

    /// <summary>Parses a number cell; when it is not one, the line is bad (see <see cref="Bad"/>).</summary>
    public static bool TryNumber(string path, int line, string text, ReplayBadLines? bad, out double value)
    {
        if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out value) && double.IsFinite(value))
        {
            return true;
        }

        return Bad(bad, $"{Path.GetFileName(path)} line {line}: '{text}' is not a number");
    }

    /// <summary>A line that cannot be read: thrown without a collector, else recorded and skipped (returns false).</summary>
    public static bool Bad(ReplayBadLines? bad, string reason)
    {
        if (bad is null)
        {
            throw new InvalidDataException(reason);
        }

        bad.Add(reason);
        return false;
    }
}
