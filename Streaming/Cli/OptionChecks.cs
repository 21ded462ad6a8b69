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
}
