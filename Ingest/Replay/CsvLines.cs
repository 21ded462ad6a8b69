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

    public static double Number(string path, int line, string text)
    {
        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v))
        {
            throw new InvalidDataException($"{Path.GetFileName(path)} line {line}: '{text}' is not a number");
        }

        return v;
    }
}
