namespace StreamLstm.Model.Forecasting;

/// <summary>
/// The pipeline's output port. The pipeline stores a row's Kafka offset only after <see cref="WriteAsync"/> has returned
/// for the batch holding that row <em>and</em> a later <see cref="FlushAsync"/> has completed (at-least-once, also across a
/// process kill). Implementations must copy what they keep: the batch is reused as soon as the call returns.
/// </summary>
public interface IForecastOutput
{
    /// <summary>Hands a batch of forecasts to the output. Completes when the output has taken responsibility for them.</summary>
    /// <param name="batch">The batch; valid only during the call.</param>
    /// <param name="cancellationToken">Cancels the hand-off.</param>
    /// <returns>A task that completes when the batch is handed over (this is where backpressure is applied).</returns>
    ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken);

    /// <summary>
    /// Flushes anything buffered: everything whose <see cref="WriteAsync"/> returned before this call. Called once per commit
    /// interval by the pipeline's durability barrier while workers keep writing (so it must be safe concurrently with
    /// <see cref="WriteAsync"/> and should not wait for writes made after it began), on partition revoke and on shutdown.
    /// </summary>
    /// <param name="cancellationToken">Cancels the flush.</param>
    /// <returns>A task that completes when buffered data is delivered or durably spooled.</returns>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}
