using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace StreamLstm.Streaming.Hosting;

/// <summary>Turns start-up validation exceptions (one or several options types) into a flat list of messages.</summary>
public static partial class StartupErrors
{
    /// <summary>Every options-validation failure inside <paramref name="exception"/>, or null if it holds none.</summary>
    /// <param name="exception">What start-up threw.</param>
    /// <returns>The messages, or null.</returns>
    public static IReadOnlyList<string>? Describe(Exception exception)
    {
        var list = new List<string>();
        Collect(exception, list);
        return list.Count == 0 ? null : list;
    }

    private static void Collect(Exception ex, List<string> list)
    {
        switch (ex)
        {
            case OptionsValidationException ove:
                list.AddRange(ove.Failures.Select(Unwrap));
                break;
            case AggregateException agg:
                foreach (var inner in agg.InnerExceptions) Collect(inner, list);
                break;
            case InvalidOperationException when ConversionFailure().Match(ex.Message) is { Success: true } m:
                // The binder's own error for a value it cannot convert (e.g. an unknown enum name): name the key and the choices.
                list.Add($"{m.Groups[2].Value} is '{m.Groups[1].Value}', which is not a valid value{Choices(m.Groups[3].Value)}.");
                break;
            default:
                if (ex.InnerException is not null) Collect(ex.InnerException, list);
                break;
        }
    }

    /// <summary>
    /// Data-annotation failures arrive as "DataAnnotation validation failed for 'T' members: 'P' with the error: 'MESSAGE'.";
    /// every annotation here names its configuration key in MESSAGE, so the wrapper only adds noise.
    /// </summary>
    /// <param name="failure">One failure.</param>
    /// <returns>The annotation's own message, or the failure unchanged.</returns>
    public static string Unwrap(string failure) => DataAnnotationFailure().Match(failure) is { Success: true } m ? m.Groups[1].Value : failure;

    /// <summary>", one of: a, b" for an enum type named by its full name, else nothing.</summary>
    private static string Choices(string typeName) =>
        AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetType(typeName, throwOnError: false)).FirstOrDefault(t => t is { IsEnum: true }) is { } type
            ? "; one of: " + string.Join(", ", Enum.GetNames(type).Select(n => n.ToLowerInvariant()))
            : "";

    [GeneratedRegex(@"^Failed to convert configuration value '(.*)' at '([^']*)' to type '([^']*)'\.", RegexOptions.Singleline)]
    private static partial Regex ConversionFailure();

    [GeneratedRegex(@"^DataAnnotation validation failed for '[^']*' members: '[^']*' with the error: '(.*)'\.$", RegexOptions.Singleline)]
    private static partial Regex DataAnnotationFailure();
}
