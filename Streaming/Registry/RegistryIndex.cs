using System.Text.Json.Serialization;

namespace StreamLstm.Streaming.Registry;

/// <summary>The contents of <c>registry.json</c>: which version serves each kind, and every promotion and rollback.</summary>
public sealed class RegistryIndex
{
    /// <summary>Per kind (<c>tick</c>, <c>vitals</c>, <c>audio</c>): the serving version and the ones served before it.</summary>
    [JsonPropertyName("kinds")]
    public Dictionary<string, KindServing> Kinds { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Every change of a serving version, oldest first.</summary>
    [JsonPropertyName("history")]
    public List<ServingChange> History { get; set; } = [];
}

/// <summary>One kind's serving pointer.</summary>
public sealed class KindServing
{
    /// <summary>The version that serves now.</summary>
    [JsonPropertyName("serving")]
    public string Serving { get; set; } = "";

    /// <summary>Versions served before, oldest first; a rollback returns to the last one.</summary>
    [JsonPropertyName("previous")]
    public List<string> Previous { get; set; } = [];
}

/// <summary>One entry of the promotion history.</summary>
/// <param name="At">When it happened (UTC).</param>
/// <param name="Action"><c>promote</c> or <c>rollback</c>.</param>
/// <param name="Kind">Kind.</param>
/// <param name="Version">Version that serves after the change.</param>
/// <param name="Replaced">Version that served before it (empty when none).</param>
public sealed record ServingChange(
    [property: JsonPropertyName("at")] DateTimeOffset At,
    [property: JsonPropertyName("action")] string Action,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("replaced")] string Replaced);

/// <summary>One stored version as listed.</summary>
/// <param name="Version">Version name.</param>
/// <param name="Path">Its safetensors file.</param>
/// <param name="Metadata">Its metadata.</param>
/// <param name="Serving">Whether it serves its kind now.</param>
public sealed record RegistryEntry(string Version, string Path, StreamLstm.Model.Lstm.ModelMetadata Metadata, bool Serving);

/// <summary>A registry operation that cannot be done (unknown version or kind, nothing to roll back, version taken…); the message says why.</summary>
public sealed class RegistryException : Exception
{
    /// <summary>Creates the exception.</summary>
    public RegistryException()
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    public RegistryException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="inner">Cause.</param>
    public RegistryException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
