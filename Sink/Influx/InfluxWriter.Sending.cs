using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace StreamLstm.Sink.Influx;

/// <summary>The sender loop: live sends, spool replay, bisection of rejected batches, configuration errors and faults.</summary>
public sealed partial class InfluxWriter
{
    private long _nextProbe;
    private int _configurationErrorStreak;

    /// <summary>What became of one batch.</summary>
    private enum Delivery
    {
        /// <summary>Delivered, or its rejected lines dead-lettered: done.</summary>
        Done,

        /// <summary>Not delivered (outage, timeout, time budget): spool and probe again soon.</summary>
        Unavailable,

        /// <summary>401/403/404: spool and probe again after a long, growing pause.</summary>
        ConfigurationError,
    }

    /// <summary>Time until the next replay attempt (zero when none is scheduled); for status and tests.</summary>
    internal TimeSpan NextReplayAttemptIn
    {
        get
        {
            var at = Interlocked.Read(ref _nextProbe);
            return at == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Max(0, at - _time.GetTimestamp()) / (double)_time.TimestampFrequency);
        }
    }

    private async Task SendLoopAsync()
    {
        var reader = _queue.Reader;
        var stop = _stop.Token;
        var inFlight = new List<Task<LiveResult>>(_options.MaxInFlightRequests);
        TaskCompletionSource? takenFlush = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (!_spool.IsEmpty)
                {
                    // Replay mode: one request at a time, oldest first.
                    while (inFlight.Count > 0)
                    {
                        await CompleteOneAsync(inFlight).ConfigureAwait(false);
                    }

                    MoveQueuedIntoSpool(reader);
                    var next = Interlocked.Read(ref _nextProbe);
                    if (next != 0 && _time.GetTimestamp() < next)
                    {
                        await WaitForProbeOrWorkAsync(reader, next, stop).ConfigureAwait(false);
                        continue;
                    }

                    if (_spool.TryPeek(out var record))
                    {
                        var result = await DeliverAsync(record.Payload, record.Points, stop).ConfigureAwait(false);
                        if (result == Delivery.Done)
                        {
                            _spool.Acknowledge();
                            Interlocked.Exchange(ref _nextProbe, 0);
                            if (_spool.IsEmpty)
                            {
                                LogSpoolDrained(_logger);
                            }
                        }
                        else
                        {
                            Schedule(result);
                        }
                    }

                    // A record that could not be read was quarantined by TryPeek, which also fixed the counters.
                    UpdateSpoolCounters();
                    continue;
                }

                if (inFlight.Count >= _options.MaxInFlightRequests)
                {
                    await CompleteOneAsync(inFlight).ConfigureAwait(false);
                    continue;
                }

                if (inFlight.Count > 0 && !reader.TryPeek(out _))
                {
                    // Wait for new work or for a request to finish, whichever comes first.
                    var read = reader.WaitToReadAsync(stop).AsTask();
                    var any = Task.WhenAny(inFlight);
                    if (await Task.WhenAny(read, any).ConfigureAwait(false) == any)
                    {
                        await CompleteOneAsync(inFlight).ConfigureAwait(false);
                    }

                    continue;
                }

                if (!await reader.WaitToReadAsync(stop).ConfigureAwait(false))
                {
                    break;
                }

                if (!reader.TryRead(out var item))
                {
                    continue;
                }

                if (item.Batch is not { } batch)
                {
                    // A flush completes once everything before it is delivered or spooled.
                    takenFlush = item.Flushed;
                    while (inFlight.Count > 0)
                    {
                        await CompleteOneAsync(inFlight).ConfigureAwait(false);
                    }

                    item.Flushed!.TrySetResult();
                    takenFlush = null;
                    continue;
                }

                inFlight.Add(SendLiveAsync(batch, stop));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopping.
        }
        catch (Exception e)
        {
            // Never leave writers and flushes waiting on a loop that is gone: fault the writer and complete the queue.
            _fault = e;
            Counters.Fault = e.GetType().Name + ": " + e.Message;
            LogSenderCrashed(_logger, Destination.ToString(), _spool.Directory, e);
            _queue.Writer.TryComplete(e);
        }
        finally
        {
            // Batches in flight or queued are spooled (unless this is a simulated kill); pending flushes fail or are cancelled.
            foreach (var t in inFlight)
            {
                var r = await t.ConfigureAwait(false);
                if (r.Delivery == Delivery.Done && r.Error is null)
                {
                    r.Batch.Dispose();
                }
                else
                {
                    SpoolLeftover(r.Batch);
                }
            }

            if (takenFlush is not null)
            {
                // The flush this loop was completing when it stopped: it must not wait forever either.
                Complete(takenFlush);
            }

            while (reader.TryRead(out var left))
            {
                if (left.Batch is { } b)
                {
                    SpoolLeftover(b);
                }

                if (left.Flushed is { } flushed)
                {
                    Complete(flushed);
                }
            }

            UpdateSpoolCounters();
        }

        void Complete(TaskCompletionSource flushed)
        {
            if (_fault is { } fault)
            {
                flushed.TrySetException(new InfluxSinkFaultedException($"The InfluxDB writer for {Destination} stopped after an unexpected error ({fault.Message}); this flush cannot complete.", fault));
            }
            else
            {
                flushed.TrySetCanceled(CancellationToken.None);
            }
        }
    }

    private async Task<LiveResult> SendLiveAsync(Batch batch, CancellationToken stop)
    {
        try
        {
            return new LiveResult(batch, await DeliverAsync(batch.Memory, batch.Points, stop).ConfigureAwait(false), null);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return new LiveResult(batch, Delivery.Unavailable, null);
        }
        catch (Exception e)
        {
            // Keep the batch so it can still be spooled; the loop rethrows the error.
            return new LiveResult(batch, Delivery.Unavailable, ExceptionDispatchInfo.Capture(e));
        }
    }

    private async Task CompleteOneAsync(List<Task<LiveResult>> inFlight)
    {
        var done = await Task.WhenAny(inFlight).ConfigureAwait(false);
        inFlight.Remove(done);
        var (batch, delivery, error) = await done.ConfigureAwait(false);
        if (error is not null)
        {
            SpoolLeftover(batch);
            error.Throw();
        }

        using (batch)
        {
            if (delivery == Delivery.Done)
            {
                return;
            }

            if (_stop.IsCancellationRequested)
            {
                if (!_killed)
                {
                    _spool.TryAppend(batch.Memory.Span, batch.Points, force: true);
                    Counters.Spooled(batch.Points);
                }

                return;
            }

            // Accepted batches are never dropped: when requests that failed alongside filled the spool, exceed the bound.
            _spool.TryAppend(batch.Memory.Span, batch.Points, force: true);
            Counters.Spooled(batch.Points);
            LogSpooling(_logger, batch.Points, _spool.PendingPoints);
            UpdateSpoolCounters();
            Schedule(delivery);
        }
    }

    private void Schedule(Delivery delivery)
    {
        var wait = _options.ReplayProbeInterval;
        if (delivery == Delivery.ConfigurationError)
        {
            // Bad credentials or a missing database do not fix themselves within a second: back off, doubling, up to the cap.
            var doublings = Math.Min(Math.Max(0, _configurationErrorStreak - 1), 30);
            var ticks = Math.Min(_options.ConfigurationErrorBackoff.Ticks * (1L << Math.Min(doublings, 20)), _options.ConfigurationErrorMaxBackoff.Ticks);
            wait = TimeSpan.FromTicks(ticks);
        }

        Interlocked.Exchange(ref _nextProbe, _time.GetTimestamp() + (long)(wait.TotalSeconds * _time.TimestampFrequency));
    }

    private void MoveQueuedIntoSpool(ChannelReader<Item> reader)
    {
        // While the spool holds anything, new batches queue behind it so replay order is kept.
        while (reader.TryPeek(out var item))
        {
            if (item.Batch is { } b)
            {
                if (!_spool.HasRoomFor(b.Length))
                {
                    return;
                }

                _spool.TryAppend(b.Memory.Span, b.Points);
                Counters.Spooled(b.Points);
                b.Dispose();
            }

            reader.TryRead(out _);
            item.Flushed?.TrySetResult();
        }

        UpdateSpoolCounters();
    }

    private async Task WaitForProbeOrWorkAsync(ChannelReader<Item> reader, long nextProbe, CancellationToken stop)
    {
        var remaining = TimeSpan.FromSeconds((double)(nextProbe - _time.GetTimestamp()) / _time.TimestampFrequency);
        if (remaining <= TimeSpan.Zero)
        {
            return;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var delay = Task.Delay(remaining, _time, cts.Token);
        var work = reader.TryPeek(out var head) && (head.Batch is null || _spool.HasRoomFor(head.Batch.Length))
            ? Task.CompletedTask
            : reader.WaitToReadAsync(cts.Token).AsTask();
        await Task.WhenAny(delay, work).ConfigureAwait(false);
        await cts.CancelAsync().ConfigureAwait(false);
        stop.ThrowIfCancellationRequested();

        // If only a batch that does not fit is waiting, keep waiting for the probe time (backpressure).
        if (work.IsCompleted && !delay.IsCompleted && reader.TryPeek(out var h) && h.Batch is { } b && !_spool.HasRoomFor(b.Length))
        {
            await Task.Delay(remaining, _time, stop).ConfigureAwait(false);
        }
    }

    private async ValueTask<Delivery> DeliverAsync(ReadOnlyMemory<byte> body, int points, CancellationToken stop)
    {
        // One budget for the whole batch: retries with Retry-After and bisection requests cannot hold the sender longer.
        using var budget = new CancellationTokenSource(_options.BatchTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, budget.Token);
        try
        {
            var outcome = await SendAsync(body, linked.Token).ConfigureAwait(false);
            switch (outcome.Status)
            {
                case SendStatus.Delivered:
                    Counters.Delivered(points);
                    return Delivery.Done;
                case SendStatus.Rejected:
                    LogRejected(_logger, outcome.HttpStatus, outcome.Message, points);
                    var requests = 0;
                    return await BisectAsync(body, outcome, () => ++requests, linked.Token).ConfigureAwait(false);
                case SendStatus.ConfigurationError:
                    return Delivery.ConfigurationError;
                default:
                    return Delivery.Unavailable;
            }
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested && !stop.IsCancellationRequested)
        {
            LogBatchTimeout(_logger, points, _options.BatchTimeout.TotalSeconds);
            return Delivery.Unavailable;
        }
    }

    private async ValueTask<SendOutcome> SendAsync(ReadOnlyMemory<byte> body, CancellationToken ct)
    {
        var outcome = await _sender.SendAsync(body, ct).ConfigureAwait(false);
        Counters.Request(outcome.Status is SendStatus.Unavailable or SendStatus.ConfigurationError);
        if (outcome.Status == SendStatus.ConfigurationError)
        {
            _configurationErrorStreak++;
            if (Counters.ConfigurationErrorStatus != outcome.HttpStatus)
            {
                // Reported once when it starts (or changes), not per attempt; the flag stays up for status pages until it clears.
                Counters.ConfigurationError = outcome.Message;
                Counters.ConfigurationErrorStatus = outcome.HttpStatus;
                LogConfigurationError(_logger, outcome.HttpStatus, outcome.Message, _endpoint.Description, _options.ConfigurationErrorBackoff.TotalSeconds, _options.ConfigurationErrorMaxBackoff.TotalSeconds);
            }
        }
        else if (outcome.Status is SendStatus.Delivered or SendStatus.Rejected)
        {
            if (Counters.ConfigurationErrorStatus != 0)
            {
                LogConfigurationResolved(_logger, Counters.ConfigurationErrorStatus, _spool.PendingPoints);
                Counters.ConfigurationErrorStatus = 0;
                Counters.ConfigurationError = null;
            }

            _configurationErrorStreak = 0;
        }

        return outcome;
    }

    private async ValueTask<Delivery> BisectAsync(ReadOnlyMemory<byte> body, SendOutcome outcome, Func<int> countRequest, CancellationToken ct)
    {
        var lines = body.Span.Count((byte)'\n');
        if (lines <= 1)
        {
            _deadLetters.Write(outcome.HttpStatus, outcome.Message, body.Span);
            Counters.DeadLettered(1);
            LogDeadLettered(_logger, outcome.Message, _deadLetters.Path);
            return Delivery.Done;
        }

        // Split at the newline closest to the middle line.
        var half = lines / 2;
        var cut = 0;
        for (var i = 0; i < half; i++)
        {
            cut += body.Span[cut..].IndexOf((byte)'\n') + 1;
        }

        foreach (var part in (ReadOnlyMemory<byte>[])[body[..cut], body[cut..]])
        {
            if (countRequest() > _options.MaxBisectRequests)
            {
                // A batch where many lines are bad would take ~2 requests per bad line: stop and keep the rest line by line.
                DeadLetterEach(part, outcome);
                continue;
            }

            var r = await SendAsync(part, ct).ConfigureAwait(false);
            if (r.Status == SendStatus.Unavailable)
            {
                return Delivery.Unavailable;
            }

            if (r.Status == SendStatus.ConfigurationError)
            {
                return Delivery.ConfigurationError;
            }

            if (r.Status == SendStatus.Delivered)
            {
                Counters.Delivered(part.Span.Count((byte)'\n'));
            }
            else if (await BisectAsync(part, r, countRequest, ct).ConfigureAwait(false) is var sub && sub != Delivery.Done)
            {
                return sub;
            }
        }

        return Delivery.Done;
    }

    private void DeadLetterEach(ReadOnlyMemory<byte> part, SendOutcome outcome)
    {
        var reason = $"HTTP {outcome.HttpStatus}: {outcome.Message} (not isolated: bisection stopped after {_options.MaxBisectRequests} requests, Sink:Influx:MaxBisectRequests; this line may be valid)";
        var span = part.Span;
        var n = 0;
        while (!span.IsEmpty)
        {
            var nl = span.IndexOf((byte)'\n');
            var end = nl < 0 ? span.Length : nl + 1;
            _deadLetters.Write(outcome.HttpStatus, reason, span[..end]);
            span = span[end..];
            n++;
        }

        Counters.DeadLettered(n);
        LogBisectLimit(_logger, n, _options.MaxBisectRequests, _deadLetters.Path);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB unavailable: spooled {Points} points ({Pending} points now waiting on disk).")]
    private static partial void LogSpooling(ILogger logger, int points, long pending);

    [LoggerMessage(Level = LogLevel.Information, Message = "Spool drained: InfluxDB has every spooled batch.")]
    private static partial void LogSpoolDrained(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB rejected part of a batch (HTTP {Status}: {Message}); isolating the rejected points among {Points}.")]
    private static partial void LogRejected(ILogger logger, int status, string message, int points);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dead-lettered a point InfluxDB rejects ({Message}) to {Path}.")]
    private static partial void LogDeadLettered(ILogger logger, string message, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "Bisection of a rejected batch reached its limit of {Limit} requests; {Lines} lines not yet isolated were dead-lettered one by one to {Path}.")]
    private static partial void LogBisectLimit(ILogger logger, int lines, int limit, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A batch of {Points} points did not complete within its {Seconds} s budget (Sink:Influx:BatchTimeout); it is spooled and retried later.")]
    private static partial void LogBatchTimeout(ILogger logger, int points, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "InfluxDB refused the write with HTTP {Status}: {Message}. This is a configuration error (credentials, database/bucket, org) at {Endpoint}: writes stop, batches stay in the spool, and InfluxDB is asked again after {FirstSeconds} s, doubling up to {MaxSeconds} s. Logged once.")]
    private static partial void LogConfigurationError(ILogger logger, int status, string message, string endpoint, double firstSeconds, double maxSeconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "InfluxDB accepts writes again (the HTTP {Status} configuration error is gone); replaying {Pending} spooled points.")]
    private static partial void LogConfigurationResolved(ILogger logger, int status, long pending);

    [LoggerMessage(Level = LogLevel.Critical, Message = "InfluxDB sender loop for {Destination} crashed; the writer is faulted and every write and flush now fails. Batches it held are spooled in {Spool}.")]
    private static partial void LogSenderCrashed(ILogger logger, string destination, string spool, Exception exception);

    private readonly record struct LiveResult(Batch Batch, Delivery Delivery, ExceptionDispatchInfo? Error);
}
