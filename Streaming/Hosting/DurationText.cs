using System.CommandLine.Parsing;
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
        return TryParse(text, out var value) ? value : throw new FormatException($"'{text}' is not a duration (e.g. 90s, 5m, 30 or 00:01:30).");
    }

    /// <summary>Parses a duration of zero or more (finite, within <see cref="TimeSpan"/>'s range).</summary>
    /// <param name="text">The text.</param>
    /// <param name="value">The duration.</param>
    /// <returns>False when the text is not such a duration.</returns>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (string.IsNullOrWhiteSpace(text)) return false;
        text = text.Trim();
        double seconds;
        if (text.EndsWith('s') && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var s)) seconds = s;
        else if (text.EndsWith('m') && double.TryParse(text[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var m)) seconds = m * 60;
        else if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var plain)) seconds = plain;
        else if (TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var span)) seconds = span.TotalSeconds;
        else return false;

        // NaN, infinities, negatives and values past TimeSpan's range are not durations (FromSeconds would throw on some).
        if (!(seconds >= 0) || seconds > TimeSpan.MaxValue.TotalSeconds / 2) return false;
        value = TimeSpan.FromSeconds(seconds);
        return true;
    }

    /// <summary>
    /// A command-line option's parser: the duration, or a parse error naming the option (never an exception, which would
    /// end the process before the usage error is shown).
    /// </summary>
    /// <param name="result">The option's argument.</param>
    /// <returns>The duration (default when it did not parse; the error is on <paramref name="result"/>).</returns>
    public static TimeSpan Argument(ArgumentResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (TryParse(text, out var value)) return value;
        var name = (result.Parent as OptionResult)?.Option.Name ?? "a duration option";
        result.AddError($"{name}: '{text}' is not a duration of 0 or more (e.g. 90s, 5m, 30 or 00:01:30).");
        return default;
    }
}
