using StreamLstm.Sink.Anomaly;
using StreamLstm.Sink.Hosting;
using StreamLstm.Streaming.Hosting;

namespace StreamLstm.Streaming.Tests.Hosting;

/// <summary><c>Sink:Anomaly:Sources:*:WatchFeatures</c> names are checked against each kind's features at start-up.</summary>
public class WatchFeaturesValidatorTests
{
    [Fact]
    public void AKnownName_IsAccepted_InAnyCase()
    {
        var o = new SinkOptions();
        o.Anomaly.Sources["vitals"] = new SourceCalibration { WatchFeatures = ["SpO2", "map"] };
        Assert.True(new WatchFeaturesValidator().Validate(null, o).Succeeded);
    }

    [Fact]
    public void AnUnknownName_FailsNamingTheKindAndTheChoices()
    {
        var o = new SinkOptions();
        o.Anomaly.Sources["vitals"] = new SourceCalibration { WatchFeatures = ["spo"] };
        var result = new WatchFeaturesValidator().Validate(null, o);
        Assert.True(result.Failed);
        Assert.Contains("Sink:Anomaly:Sources:vitals:WatchFeatures: 'spo' is not a feature of vitals events; use one of hr, spo2,", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void AudioNames_FollowTheConfiguredCoefficientCount()
    {
        var o = new SinkOptions();
        o.Anomaly.Sources["audio"] = new SourceCalibration { WatchFeatures = ["c20"] };
        Assert.True(new WatchFeaturesValidator().Validate(null, o).Failed); // 13 coefficients by default: c0..c12
        var wide = Microsoft.Extensions.Options.Options.Create(new StreamLstm.Streaming.Pipeline.PipelineOptions { AudioCoefficients = 24 });
        Assert.True(new WatchFeaturesValidator(wide).Validate(null, o).Succeeded);
    }
}
