using StreamLstm.Model.Forecasting;
using StreamLstm.Sink.Anomaly;

namespace StreamLstm.Sink.Tests.Support;

/// <summary>Scores a hand-made batch the way the pipeline does before the outputs see it.</summary>
internal static class Scoring
{
    public static ForecastBatch ScoredBy(this ForecastBatch batch, AnomalyDetector detector)
    {
        detector.Process(batch);
        return batch;
    }
}
