using System.Globalization;
using System.Text;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>
/// Cells of a delimited text line as real-world exports write them: the delimiter guessed from the header (comma,
/// semicolon, tab or bar), RFC 4180 quoting (a quoted cell may hold the delimiter; <c>""</c> is a quote), and numbers with a
/// currency sign, thousands separators or a trailing percent sign (<c>"$1,234.50"</c>, as brokers' downloads write prices).
/// </summary>
public static class CsvCells
{
    private static readonly char[] Candidates = [',', ';', '\t', '|'];

    /// <summary>The delimiter of a file from its first line: the candidate found most often outside quotes (comma on a tie or none).</summary>
    /// <param name="firstLine">The file's first line.</param>
    /// <returns>The delimiter.</returns>
    public static char DetectDelimiter(string firstLine)
    {
        var best = ',';
        var bestCount = 0;
        foreach (var c in Candidates)
        {
            var n = CountOutsideQuotes(firstLine, c);
            if (n > bestCount)
            {
                best = c;
                bestCount = n;
            }
        }

        return best;
    }

    /// <summary>Splits one line into cells, honouring quotes; each cell is trimmed of spaces and its surrounding quotes.</summary>
    /// <param name="line">The line.</param>
    /// <param name="delimiter">The delimiter.</param>
    /// <returns>The cells.</returns>
    public static string[] Split(string line, char delimiter)
    {
        ArgumentNullException.ThrowIfNull(line);

        // The common case (no quote at all) needs no state machine.
        if (!line.Contains('"', StringComparison.Ordinal))
        {
            var plain = line.Split(delimiter);
            for (var i = 0; i < plain.Length; i++) plain[i] = plain[i].Trim();
            return plain;
        }

        var cells = new List<string>();
        var cell = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"')
                {
                    cell.Append('"');
                    i++;
                }
                else if (ch == '"')
                {
                    quoted = false;
                }
                else
                {
                    cell.Append(ch);
                }
            }
            else if (ch == '"')
            {
                quoted = true;
            }
            else if (ch == delimiter)
            {
                cells.Add(cell.ToString().Trim());
                cell.Clear();
            }
            else
            {
                cell.Append(ch);
            }
        }

        cells.Add(cell.ToString().Trim());
        return cells.ToArray();
    }

    /// <summary>
    /// Parses a number cell: plain invariant numbers first; otherwise one leading currency sign (any Unicode currency symbol),
    /// thousands separators and one trailing <c>%</c> are allowed (the percent is kept as written: <c>5%</c> is 5).
    /// Empty cells, words (<c>NA</c>, <c>null</c>) and non-finite values are not numbers.
    /// </summary>
    /// <param name="cell">The cell.</param>
    /// <param name="value">The number.</param>
    /// <returns>Whether the cell is a finite number.</returns>
    public static bool TryParseNumber(string cell, out double value) => TryParseNumber(cell, decimalComma: false, out value);

    /// <summary>
    /// Parses a number cell as <see cref="TryParseNumber(string, out double)"/>; with <paramref name="decimalComma"/> (a file
    /// delimited by <c>;</c>, tab or <c>|</c>, as European exports write them) a comma is the decimal mark when the cell has no
    /// dot or when it comes after the last dot (<c>0,156</c> is 0.156, <c>1.234,5</c> is 1234.5; <c>1,234.5</c> stays 1234.5).
    /// </summary>
    /// <param name="cell">The cell.</param>
    /// <param name="decimalComma">Whether a comma may be the decimal mark.</param>
    /// <param name="value">The number.</param>
    /// <returns>Whether the cell is a finite number.</returns>
    public static bool TryParseNumber(string cell, bool decimalComma, out double value)
    {
        ArgumentNullException.ThrowIfNull(cell);
        if (double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out value)) return double.IsFinite(value);
        if (decimalComma && DecimalCommaForm(cell) is { } swapped) return TryParseNumber(swapped, decimalComma: false, out value);
        var s = cell.AsSpan().Trim();
        var negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            s = s[1..].TrimStart();
        }

        if (s.Length > 0 && CharUnicodeInfo.GetUnicodeCategory(s[0]) == UnicodeCategory.CurrencySymbol) s = s[1..].TrimStart();
        if (s.Length > 0 && s[^1] == '%') s = s[..^1].TrimEnd();
        if (s.Length == 0 || (!char.IsAsciiDigit(s[0]) && s[0] != '.')) return false;
        if (!double.TryParse(s, NumberStyles.Float | NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out value) || !double.IsFinite(value)) return false;
        if (negative) value = -value;
        return true;
    }

    /// <summary>The cell with its decimal comma written as a dot (and dots before it, thousands separators, dropped); null
    /// when its comma is not a decimal mark: none, more than one, or one before a dot.</summary>
    private static string? DecimalCommaForm(string cell)
    {
        var comma = cell.IndexOf(',', StringComparison.Ordinal);
        if (comma < 0 || comma != cell.LastIndexOf(',') || cell.LastIndexOf('.') > comma) return null;
        return cell[..comma].Replace(".", "", StringComparison.Ordinal) + "." + cell[(comma + 1)..];
    }

    private static int CountOutsideQuotes(string line, char c)
    {
        var n = 0;
        var quoted = false;
        foreach (var ch in line)
        {
            if (ch == '"') quoted = !quoted;
            else if (ch == c && !quoted) n++;
        }

        return n;
    }
}
