using System.Buffers;
using System.Text;
using System.Text.Json;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Alerts;

/// <summary>JSON shape of alert messages on the <c>alerts</c> Kafka topic (documented in docs/sink.md). Non-finite numbers are written as <c>null</c>.</summary>
public static class AlertJson
{
    /// <summary>Serialises an event.</summary>
    /// <param name="alert">The event.</param>
    /// <returns>UTF-8 JSON text.</returns>
    public static string Serialize(AlertEvent alert)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("alert_id", alert.AlertId);
            w.WriteString("event", alert.KindName);
            w.WriteString("severity", alert.SeverityName);
            w.WriteString("source", Model.Forecasting.SourceKindNames.ToWireName(alert.Source));
            w.WriteString("key", alert.Key);
            w.WriteString("model", alert.Model);
            w.WriteNumber("start_ms", alert.StartMs);
            w.WriteNumber("event_ms", alert.EventMs);
            Number(w, "peak_score", alert.PeakScore);
            Number(w, "score", alert.Score);
            w.WriteStartObject("violated_forecast");
            Number(w, "observed", alert.Observed);
            Number(w, "mu", alert.ForecastMu);
            Number(w, "sigma", alert.ForecastSigma);
            w.WriteNumber("made_at_ms", alert.ForecastMadeAtMs);
            w.WriteEndObject();
            w.WriteString("emitted_at", alert.EmittedAt);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>JSON has no NaN or infinities (Utf8JsonWriter throws on them): a non-finite value is written as <c>null</c>.</summary>
    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value))
        {
            w.WriteNumber(name, value);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
