using System.Globalization;

namespace StreamLstm.Streaming.Hosting;

/// <summary>Durations on the command line: <c>90s</c>, <c>5m</c>, a plain number of seconds, or <c>hh:mm:ss</c>.</summary>
public static class DurationText
{
    /// <summary>Parses a duration.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The duration.</returns>
    /// <exception cref="FormatException">Not a duration.</exception>
    public static TimeSpan Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.EndsWith('s') && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var s)) return TimeSpan.FromSeconds(s);
        if (text.EndsWith('m') && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var m)) return TimeSpan.FromMinutes(m);
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain)) return TimeSpan.FromSeconds(plain);
        return TimeSpan.Parse(text, CultureInfo.InvariantCulture);
    }
}
