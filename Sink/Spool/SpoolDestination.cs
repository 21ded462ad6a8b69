using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace StreamLstm.Sink.Spool;

/// <summary>
/// Where a spool's batches belong: the InfluxDB URL (never with credentials) plus database/retention policy (v1) or
/// org/bucket (v2). Each destination has its own spool directory, <see cref="Key"/>, holding a <c>destination.json</c>;
/// a writer only ever replays the directory of its own destination.
/// </summary>
public sealed record SpoolDestination
{
    /// <summary>File that records the destination inside its spool directory.</summary>
    public const string FileName = "destination.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary><c>v1</c> or <c>v2</c>.</summary>
    public required string Api { get; init; }

    /// <summary>Base URL without user-info, query or trailing slash, host in lower case.</summary>
    public required string Url { get; init; }

    /// <summary>v1 database.</summary>
    public string? Database { get; init; }

    /// <summary>v1 retention policy.</summary>
    public string? RetentionPolicy { get; init; }

    /// <summary>v2 organisation.</summary>
    public string? Org { get; init; }

    /// <summary>v2 bucket.</summary>
    public string? Bucket { get; init; }

    /// <summary>Directory name: readable part plus a hash of the whole destination (so two destinations never share one).</summary>
    [JsonIgnore]
    public string Key
    {
        get
        {
            var canonical = string.Join('\n', Api, Url, Database ?? string.Empty, RetentionPolicy ?? string.Empty, Org ?? string.Empty, Bucket ?? string.Empty);
            var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)).AsSpan(0, 5));
            var uri = new Uri(Url);
            var name = Api == "v1" ? Database : Bucket;
            return Slug(string.Create(CultureInfo.InvariantCulture, $"{Api}-{uri.Host}-{uri.Port}-{name}")) + "-" + hash;
        }
    }

    /// <summary>Canonical base URL: user-info, query and fragment dropped, no trailing slash.</summary>
    /// <param name="url">Absolute URL.</param>
    /// <returns>The canonical URL.</returns>
    public static string CanonicalUrl(string url)
    {
        var uri = new Uri(url, UriKind.Absolute);
        return uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped).TrimEnd('/');
    }

    /// <summary>Reads <c>destination.json</c> of a spool directory.</summary>
    /// <param name="directory">Spool directory.</param>
    /// <returns>The destination, or null when the directory has none (or it is unreadable).</returns>
    public static SpoolDestination? Read(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize<SpoolDestination>(File.ReadAllText(path), Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Writes <c>destination.json</c> (0600) into <paramref name="directory"/>.</summary>
    /// <param name="directory">Spool directory (exists).</param>
    public void Write(string directory)
    {
        using var stream = PrivateFiles.Open(Path.Combine(directory, FileName), FileMode.Create, FileAccess.Write, FileShare.Read);
        JsonSerializer.Serialize(stream, this, Json);
        stream.Flush(true);
    }

    /// <summary>Whether <paramref name="other"/> is the same destination.</summary>
    /// <param name="other">Another destination.</param>
    /// <returns>True when equal field by field.</returns>
    public bool SameAs(SpoolDestination? other) => other is not null && Key == other.Key && Equals(other);

    /// <inheritdoc />
    public override string ToString() => Api == "v1"
        ? $"{Url} (v1, db={Database}{(string.IsNullOrEmpty(RetentionPolicy) ? string.Empty : ", rp=" + RetentionPolicy)})"
        : $"{Url} (v2, org={Org}, bucket={Bucket})";

    private static string Slug(string text)
    {
        var sb = new StringBuilder(Math.Min(text.Length, 60));
        foreach (var c in text)
        {
            if (sb.Length >= 60)
            {
                break;
            }

            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_' ? char.ToLowerInvariant(c) : '_');
        }

        return sb.ToString();
    }
}
