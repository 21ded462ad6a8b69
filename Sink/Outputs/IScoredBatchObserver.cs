using StreamLstm.Model.Forecasting;

namespace StreamLstm.Sink.Outputs;

/// <summary>
/// Sees each batch after it was scored, with its row scores and the alert events it caused (live views such as the web
/// dashboard). Called on a pipeline worker thread inside the output's write: it must not block, and must copy what it
/// keeps (the batch and the spans are reused).
/// </summary>
public interface IScoredBatchObserver
{
    /// <summary>One scored batch.</summary>
    /// <param name="batch">The batch (valid during the call only).</param>
    /// <param name="scores">One score per row.</param>
    /// <param name="alerts">Alert events in row order.</param>
    void OnScored(ForecastBatch batch, ReadOnlySpan<RowScore> scores, IReadOnlyList<AlertEvent> alerts);
}
