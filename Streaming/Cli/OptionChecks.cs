using System.CommandLine;
using System.CommandLine.Parsing;

namespace StreamLstm.Streaming.Cli;

/// <summary>
/// Range checks on option values that never throw at parse time. A value that does not convert (<c>--events abc</c>)
/// already carries the parser's own error, and reading it inside a validator throws, which used to end the process with
/// an unhandled exception instead of the usage error: such a value is left to that error here.
/// </summary>
internal static class OptionChecks
{
    /// <summary>Adds a check that runs on the converted value; <paramref name="problem"/> returns the error, or null when fine.</summary>
    /// <typeparam name="T">Option value type.</typeparam>
    /// <param name="option">The option.</param>
    /// <param name="problem">The error for a value, or null.</param>
    public static void Check<T>(this Option<T> option, Func<T, string?> problem)
    {
        ArgumentNullException.ThrowIfNull(option);
        ArgumentNullException.ThrowIfNull(problem);
        option.Validators.Add(r =>
        {
            T value;
            try
            {
                value = r.GetValueOrDefault<T>();
            }
            catch (InvalidOperationException)
            {
                return;
            }

            if (problem(value) is { } error) r.AddError(error);
        });
    }

    /// <summary>
    /// Adds a check on a separated list (<c>--workers 1,2</c>): each non-empty item goes to <paramref name="itemProblem"/>,
    /// and the first error (with the option's name and the item) is the usage error; an empty list is an error too.
    /// </summary>
    /// <param name="option">The option.</param>
    /// <param name="separator">The items' separator.</param>
    /// <param name="itemProblem">The error for an item, or null when fine.</param>
    public static void CheckItems(this Option<string> option, char separator, Func<string, string?> itemProblem)
    {
        ArgumentNullException.ThrowIfNull(itemProblem);
        option.Check(v =>
        {
            var items = (v ?? "").Split(separator, StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (items.Length == 0) return $"{option.Name}: give at least one value.";
            foreach (var item in items)
            {
                if (itemProblem(item) is { } error) return $"{option.Name}: '{item}' {error}";
            }

            return null;
        });
    }

    /// <summary>An item check for whole numbers in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    /// <param name="min">Least value.</param>
    /// <param name="max">Largest value.</param>
    /// <returns>The check.</returns>
    public static Func<string, string?> WholeNumber(int min, int max = int.MaxValue) => item =>
        int.TryParse(item, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? null
            : max == int.MaxValue ? $"is not a whole number of {min} or more." : $"is not a whole number in {min}..{max}.";

    /// <summary>An item check for one of <paramref name="names"/> (ignoring case).</summary>
    /// <param name="names">The accepted names.</param>
    /// <returns>The check.</returns>
    public static Func<string, string?> OneOf(params string[] names) => item =>
        names.Contains(item, StringComparer.OrdinalIgnoreCase) ? null : $"is not one of {string.Join(", ", names)}.";
}
