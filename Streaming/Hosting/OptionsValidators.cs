using Microsoft.Extensions.Options;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;
using StreamLstm.Streaming.Pipeline;

namespace StreamLstm.Streaming.Hosting;

/// <summary>Validates <see cref="KafkaSettings"/> at start-up with messages that say what to set (cross-field and format rules; ranges are annotations).</summary>
public sealed class KafkaSettingsValidator : IValidateOptions<KafkaSettings>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, KafkaSettings o)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(o.BootstrapServers))
        {
            errors.Add("Kafka:BootstrapServers is empty: pass --bootstrap-servers HOST:PORT[,HOST:PORT] or set STREAMLSTM_Kafka__BootstrapServers.");
        }
        else
        {
            foreach (var server in o.BootstrapServers.Split(',', StringSplitOptions.TrimEntries))
            {
                var colon = server.LastIndexOf(':');
                if (colon <= 0 || !int.TryParse(server[(colon + 1)..], out var port) || port is < 1 or > 65535)
                {
                    errors.Add($"Kafka:BootstrapServers entry '{server}' is not HOST:PORT with a port in 1..65535.");
                }
            }
        }

        if (string.IsNullOrWhiteSpace(o.GroupId)) errors.Add("Kafka:GroupId is empty: set --Kafka:GroupId=NAME.");
        if (o.InputTopics().Count == 0) errors.Add("No input topic: set at least one of Kafka:TicksTopic, Kafka:VitalsTopic, Kafka:AudioTopic.");
        var all = new[] { o.TicksTopic, o.VitalsTopic, o.AudioTopic }.Where(t => !string.IsNullOrWhiteSpace(t)).ToList();
        if (all.Distinct(StringComparer.Ordinal).Count() != all.Count) errors.Add("Kafka input topics must differ from each other (one topic per source kind).");
        foreach (var (label, topic) in new[] { ("ForecastsTopic", o.ForecastsTopic), ("DeadLetterTopic", o.DeadLetterTopic), ("LateTopic", o.LateTopic) })
        {
            if (string.IsNullOrWhiteSpace(topic)) errors.Add($"Kafka:{label} is empty: give it a topic name.");
            else if (all.Contains(topic, StringComparer.Ordinal)) errors.Add($"Kafka:{label} '{topic}' is also an input topic: outputs must not feed back into the pipeline.");
        }

        if (o.AutoOffsetReset is not ("earliest" or "latest")) errors.Add($"Kafka:AutoOffsetReset must be 'earliest' or 'latest' (was '{o.AutoOffsetReset}').");
        if (o.Guarantee is not ("at_least_once" or "exactly_once")) errors.Add($"Kafka:Guarantee must be 'at_least_once' or 'exactly_once' (was '{o.Guarantee}').");
        if (o.ForecastProducePath == Sink.Kafka.ForecastProducePath.Native && o.ExactlyOnce)
        {
            errors.Add("Kafka:ForecastProducePath=native cannot be used with Kafka:Guarantee=exactly_once (forecasts are produced inside the transactional producer's transactions): set Kafka:ForecastProducePath=client.");
        }

        if (!Enum.IsDefined(o.ForecastProducePath)) errors.Add($"Kafka:ForecastProducePath must be 'client' or 'native' (was '{o.ForecastProducePath}').");
        if (!Enum.IsDefined(o.ForecastCompression)) errors.Add($"Kafka:ForecastCompression must be 'none', 'lz4', 'snappy' or 'zstd' (was '{o.ForecastCompression}').");
        if (o.ConsumePath == Ingest.Consumer.ConsumePath.Native && o.ExactlyOnce)
        {
            errors.Add("Kafka:ConsumePath=native cannot be used with Kafka:Guarantee=exactly_once (not verified there): set Kafka:ConsumePath=client.");
        }

        if (!Enum.IsDefined(o.ConsumePath)) errors.Add($"Kafka:ConsumePath must be 'client' or 'native' (was '{o.ConsumePath}').");
        if (o.FailTransactionAt < 0) errors.Add("Kafka:FailTransactionAt must be 0 (never) or a positive transaction number.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// Validates <see cref="PipelineOptions"/> beyond its data annotations (the <c>[Range]</c>s are checked by
/// <c>ValidateDataAnnotations</c>; this adds the rules an attribute cannot say clearly).
/// </summary>
public sealed class PipelineOptionsValidator : IValidateOptions<PipelineOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, PipelineOptions o)
    {
        var errors = new List<string>();
        if (o.MaxWait < TimeSpan.Zero || o.MaxWait > TimeSpan.FromSeconds(10)) errors.Add($"Pipeline:MaxWait must be between 00:00:00 and 00:00:10 (was {o.MaxWait}).");
        if (!Enum.IsDefined(o.WeightPrecision)) errors.Add($"Pipeline:WeightPrecision must be float32 or bfloat16 (was {o.WeightPrecision}).");
        errors.AddRange(TimestampWindow.Problems(o.MinEventTime, o.MaxEventTimeAhead, "Pipeline:MinEventTime", "Pipeline:MaxEventTimeAhead"));
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// Validates the feature names of <c>Sink:Anomaly:Sources:*:WatchFeatures</c> against each kind's features (the sink
/// does not know them; the pipeline does), so a misspelt name fails at start-up with the names to choose from.
/// </summary>
/// <param name="pipeline">The pipeline's options, for the audio features' coefficient count (absent: the default 13).</param>
public sealed class WatchFeaturesValidator(IOptions<PipelineOptions>? pipeline = null) : IValidateOptions<Sink.Hosting.SinkOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, Sink.Hosting.SinkOptions o)
    {
        var errors = new List<string>();
        // Audio feature names depend on Pipeline:AudioCoefficients; an out-of-range count is the pipeline validator's to report.
        var coefficients = 13;
        try
        {
            if (pipeline?.Value.AudioCoefficients is >= 1 and <= 128 and var c) coefficients = c;
        }
        catch (OptionsValidationException)
        {
        }

        foreach (var kind in Enum.GetValues<Model.Forecasting.SourceKind>())
        {
            var wire = kind.ToWireName();
            var features = Ingest.Features.FeatureExtractor.For(kind, audioCoefficients: coefficients);
            foreach (var f in o.Anomaly.For(wire).WatchFeatures)
            {
                if (!string.IsNullOrWhiteSpace(f) && features.IndexOfFeature(f) < 0)
                {
                    errors.Add($"Sink:Anomaly:Sources:{wire}:WatchFeatures: '{f}' is not a feature of {wire} events; use one of {string.Join(", ", features.FeatureNames)}.");
                }
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Validates <see cref="ModelSettings"/> beyond its data annotations: the model files must exist.</summary>
public sealed class ModelSettingsValidator : IValidateOptions<ModelSettings>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ModelSettings o)
    {
        var errors = new List<string>();
        foreach (var (label, path) in new[] { ("TickModel", o.TickModel), ("VitalsModel", o.VitalsModel), ("AudioModel", o.AudioModel) })
        {
            if (!string.IsNullOrWhiteSpace(path) && !File.Exists(path)) errors.Add($"Models:{label} file '{path}' does not exist: give the path of a .safetensors model or leave it empty.");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
