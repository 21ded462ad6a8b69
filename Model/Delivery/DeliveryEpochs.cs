namespace StreamLstm.Model.Delivery;

/// <summary>
/// Counts asynchronous deliveries (a Kafka producer's messages) in epochs, so that a flush waits only for what was
/// handed over before it began, not for an empty queue: writers keep writing into the next epoch while the flush waits.
/// Also the producers' backpressure signal: <see cref="WaitForProgress"/> returns as soon as any delivery completes.
/// </summary>
public sealed class DeliveryEpochs
{
    private readonly SemaphoreSlim _flushLock = new(1, 1);
    private readonly List<Epoch> _closed = [];
    private readonly QueueSpaceSignal _progress = new();
    private Epoch _current = new();

    /// <summary>The epoch new deliveries are counted in; call <see cref="Epoch.Begin"/> on it before handing a message over.</summary>
    public Epoch Current => Volatile.Read(ref _current);

    /// <summary>Marks one delivery of <paramref name="epoch"/> as finished (delivered or given up) and wakes backpressure waiters.</summary>
    /// <param name="epoch">The epoch the delivery was counted in.</param>
    public void Complete(Epoch epoch)
    {
        epoch.Complete();
        _progress.Signal();
    }

    /// <summary>Marks <paramref name="count"/> deliveries of <paramref name="epoch"/> as finished at once (bulk delivery reports).</summary>
    /// <param name="epoch">The epoch the deliveries were counted in.</param>
    /// <param name="count">How many.</param>
    public void Complete(Epoch epoch, long count)
    {
        epoch.Complete(count);
        _progress.Signal();
    }

    /// <summary>
    /// Prepares a wait for queue space: call before trying to hand a message over, then <see cref="WaitForProgress"/> if the
    /// queue was full, so a delivery finishing in between is not missed.
    /// </summary>
    public void ArmProgress() => _progress.Arm();

    /// <summary>Waits until some delivery finished since <see cref="ArmProgress"/>, or <paramref name="timeout"/> passed.</summary>
    /// <param name="timeout">Upper bound of the wait (the queue may drain without a report reaching us).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public void WaitForProgress(TimeSpan timeout, CancellationToken cancellationToken) => _progress.Wait(timeout, cancellationToken);

    /// <summary>Waits until every delivery counted before the call has finished. Safe while writers keep counting.</summary>
    /// <param name="cancellationToken">Cancels waiting; the epochs stay for the next flush.</param>
    /// <returns>A task that completes when the closed epochs are drained.</returns>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await _flushLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var closed = Interlocked.Exchange(ref _current, new Epoch());
            closed.Close();
            _closed.Add(closed);
            await Task.WhenAll(_closed.Select(e => e.Drained.Task)).WaitAsync(cancellationToken).ConfigureAwait(false);
            _closed.Clear();
        }
        finally
        {
            _flushLock.Release();
        }
    }

    /// <summary>Deliveries handed over between two flushes; drained once closed and every one has finished.</summary>
    public sealed class Epoch
    {
        private long _pending;
        private int _closed;
        private object? _handler;

        internal TaskCompletionSource Drained { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>
        /// The producer's delivery handler for this epoch, made once per epoch by <paramref name="create"/> (so no delegate is
        /// allocated per message). Concurrent callers get the same instance.
        /// </summary>
        /// <typeparam name="T">Handler type.</typeparam>
        /// <param name="create">Makes the handler.</param>
        /// <returns>The epoch's handler.</returns>
        public T Handler<T>(Func<Epoch, T> create)
            where T : class
        {
            if (Volatile.Read(ref _handler) is T h) return h;
            var made = create(this);
            return Interlocked.CompareExchange(ref _handler, made, null) as T ?? made;
        }

        /// <summary>Counts <paramref name="count"/> deliveries about to be handed over.</summary>
        /// <param name="count">How many.</param>
        public void Begin(long count = 1) => Interlocked.Add(ref _pending, count);

        internal void Complete(long count = 1)
        {
            // Full fences on both sides (Add here, Exchange in Close): one of them sees the other's write.
            if (Interlocked.Add(ref _pending, -count) == 0 && Volatile.Read(ref _closed) == 1) Drained.TrySetResult();
        }

        internal void Close()
        {
            Interlocked.Exchange(ref _closed, 1);
            if (Interlocked.Read(ref _pending) == 0) Drained.TrySetResult();
        }
    }
}
