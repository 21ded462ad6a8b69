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
        Assert.Contains("Sink:Anomaly:Sources:vitals:WatchFeatures: 'spo' is not a vitals feature; use one of hr, spo2,", result.FailureMessage, StringComparison.Ordinal);
    }
}
