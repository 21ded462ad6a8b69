namespace StreamLstm.Model.Delivery;

/// <summary>
/// Backpressure for a producer whose client polls in the background (so its own <c>Poll</c> may not be called): a writer
/// that found the client's queue full waits until a delivery report signals progress, or a short bound passes.
/// Usage: <see cref="Arm"/>, try to hand the message over, and on "queue full" <see cref="Wait"/>; delivery handlers call
/// <see cref="Signal"/>. Arming first means a report that lands between the attempt and the wait is not missed.
/// </summary>
public sealed class QueueSpaceSignal : IDisposable
{
    private readonly ManualResetEventSlim _progress = new(false);

    /// <summary>Prepares a wait (call before each attempt).</summary>
    public void Arm() => _progress.Reset();

    /// <summary>A delivery finished: wakes writers waiting for queue space.</summary>
    public void Signal()
    {
        // Called once per delivery report: when nobody armed a wait since the last signal, only read the flag (a write per
        // report would bounce its cache line between the client's poll thread and the writers).
        if (!_progress.IsSet) _progress.Set();
    }

    /// <summary>Waits for <see cref="Signal"/> since the last <see cref="Arm"/>, at most <paramref name="timeout"/>.</summary>
    /// <param name="timeout">Upper bound (the queue may also drain without a report reaching this signal).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public void Wait(TimeSpan timeout, CancellationToken cancellationToken = default) => _progress.Wait(timeout, cancellationToken);

    /// <inheritdoc />
    public void Dispose() => _progress.Dispose();
}
