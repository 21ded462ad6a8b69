using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Spool;

namespace StreamLstm.Sink.Influx;

/// <summary>
/// Batches line protocol (by points, bytes and time) and sends it to InfluxDB from one sender loop.
/// A batch that cannot be delivered goes to the <see cref="SegmentSpool"/>; while the spool holds anything, new batches are
/// appended behind it (order kept) and the head is replayed whenever InfluxDB answers. When the spool is full, writers wait
/// (<see cref="SpoolFullPolicy.Backpressure"/>) or fail (<see cref="SpoolFullPolicy.Fail"/>). A 400/413 is narrowed down by
/// bisection (writes are idempotent) to the lines the server rejects, which go to the <see cref="DeadLetterFile"/> with the
/// server's message; the rest is delivered.
/// </summary>
public sealed partial class InfluxWriter : IPointSink
{
    private readonly InfluxOptions _options;
    private readonly SpoolOptions _spoolOptions;
    private readonly InfluxHttpSender _sender;
    private readonly SegmentSpool _spool;
    private readonly DeadLetterFile _deadLetters;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Channel<Item> _queue;
    private readonly SemaphoreSlim _appendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sendLoop;
    private readonly Task _flushLoop;
    private Batch? _current;
    private long _currentStarted;
    private int _disposed;
    private volatile bool _killed;

    /// <summary>Creates the writer, opens (and verifies) the spool and starts the sender.</summary>
    /// <param name="http">HTTP client.</param>
    /// <param name="options">Validated InfluxDB options with a URL.</param>
    /// <param name="spoolOptions">Spool options.</param>
    /// <param name="deadLetterDirectory">Dead-letter directory.</param>
    /// <param name="time">Clock.</param>
    /// <param name="logger">Logger.</param>
    public InfluxWriter(HttpClient http, InfluxOptions options, SpoolOptions spoolOptions, string deadLetterDirectory, TimeProvider time, ILogger logger)
    {
        _options = options;
        _spoolOptions = spoolOptions;
        _time = time;
        _logger = logger;
        _sender = new InfluxHttpSender(http, options, time, logger);
        _deadLetters = new DeadLetterFile(deadLetterDirectory, time);
        _spool = SegmentSpool.Open(spoolOptions, deadLetterDirectory, logger);
        UpdateSpoolCounters();
        _queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(options.MaxQueuedBatches) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        LogStarted(logger, options.ToString(), spoolOptions.Directory);
        _sendLoop = Task.Run(SendLoopAsync);
        _flushLoop = Task.Run(FlushLoopAsync);
    }

    /// <inheritdoc />
    public WritePrecision Precision => _options.Precision;

    /// <inheritdoc />
    public SinkCounters Counters { get; } = new();

    /// <summary>The spool (corruption reports, depth).</summary>
    public SegmentSpool Spool => _spool;

    /// <summary>The dead-letter file.</summary>
    public DeadLetterFile DeadLetters => _deadLetters;

    /// <summary>The endpoint (log-safe).</summary>
    public InfluxEndpoint Endpoint => _sender.Endpoint;

    /// <inheritdoc />
    public async ValueTask WriteAsync(LineProtocolBuffer lines, CancellationToken cancellationToken)
    {
        if (lines.LineCount == 0)
        {
            return;
        }

        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        Counters.Accepted(lines.LineCount);
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var data = lines.WrittenMemory;
            var count = lines.LineCount;
            while (!data.IsEmpty)
            {
                _current ??= NewBatch();
                var room = _options.BatchMaxPoints - _current.Points;
                int take, takeLines;
                if (count <= room && _current.Length + data.Length <= _options.BatchMaxBytes)
                {
                    // Fast path: the whole block fits.
                    take = data.Length;
                    takeLines = count;
                }
                else
                {
                    (take, takeLines) = Fit(data.Span, room, _options.BatchMaxBytes - _current.Length, _current.Points == 0);
                }

                if (takeLines > 0)
                {
                    _current.Append(data.Span[..take], takeLines);
                    data = data[take..];
                    count -= takeLines;
                }

                if (_current.Points >= _options.BatchMaxPoints || _current.Length >= _options.BatchMaxBytes || takeLines == 0 || !data.IsEmpty)
                {
                    await SealAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SealAsync(cancellationToken).ConfigureAwait(false);
            await _queue.Writer.WriteAsync(new Item(null, done), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _appendLock.Release();
        }

        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until the spool is empty (everything replayed), for shutdown drains and tests.</summary>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>A task.</returns>
    public async Task WaitForSpoolDrainedAsync(CancellationToken cancellationToken)
    {
        while (!_spool.IsEmpty)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), _time, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Flushes (delivering or spooling everything) and stops. Spooled batches stay on disk for the next start.</summary>
    /// <returns>A task.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        using var timeout = new CancellationTokenSource(_options.ShutdownTimeout, _time);
        try
        {
            await FlushAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SpoolFullException)
        {
            // InfluxDB down and the spool full: what is left is spooled beyond the bound below rather than lost.
            LogShutdownOverflow(_logger, _options.ShutdownTimeout.TotalSeconds);
        }
        finally
        {
            await StopAsync(kill: false).ConfigureAwait(false);
        }
    }

    /// <summary>Simulates a process kill: stops at once without flushing; in-memory batches are lost, the spool stays on disk.</summary>
    /// <returns>A task.</returns>
    internal ValueTask KillAsync() => StopAsync(kill: true);

    private static (int Bytes, int Lines) Fit(ReadOnlySpan<byte> data, int maxLines, int maxBytes, bool mustTakeOne)
    {
        var taken = 0;
        var lines = 0;
        while (lines < maxLines && taken < data.Length)
        {
            var nl = data[taken..].IndexOf((byte)'\n');
            var end = taken + nl + 1;
            if (end > maxBytes && !(mustTakeOne && lines == 0))
            {
                break;
            }

            taken = end;
            lines++;
        }

        return (taken, lines);
    }

    private async ValueTask StopAsync(bool kill)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _killed = kill;
        await _stop.CancelAsync().ConfigureAwait(false);
        _queue.Writer.TryComplete();
        try
        {
            await Task.WhenAll(_sendLoop, _flushLoop).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Expected on stop.
        }

        if (_current is { } current)
        {
            SpoolLeftover(current);
            _current = null;
        }

        _spool.Dispose();
        _deadLetters.Dispose();
        _stop.Dispose();
    }

    private Batch NewBatch()
    {
        _currentStarted = _time.GetTimestamp();
        return new Batch(Math.Min(_options.BatchMaxBytes, 1 << 20));
    }

    private async ValueTask SealAsync(CancellationToken ct)
    {
        var batch = _current;
        if (batch is null || batch.Points == 0)
        {
            return;
        }

        if (_spoolOptions.FullPolicy == SpoolFullPolicy.Backpressure)
        {
            // Backpressure: wait for the sender; if cancelled, the batch stays current and is spooled on dispose.
            await _queue.Writer.WriteAsync(new Item(batch, null), ct).ConfigureAwait(false);
        }
        else
        {
            while (!_queue.Writer.TryWrite(new Item(batch, null)))
            {
                if (!_spool.IsEmpty && !_spool.HasRoomFor(batch.Length))
                {
                    // The batch stays current: nothing already accepted is dropped; callers see the exception until there is room.
                    throw new SpoolFullException($"The InfluxDB spool in '{_spoolOptions.Directory}' is full ({_spool.SizeBytes} bytes) and InfluxDB is not answering; raise Sink:Spool:MaxBytes or restore InfluxDB.");
                }

                // The queue is briefly full while the sender works; re-check the spool every few milliseconds.
                await Task.WhenAny(_queue.Writer.WaitToWriteAsync(ct).AsTask(), Task.Delay(TimeSpan.FromMilliseconds(20), _time, ct)).ConfigureAwait(false);
                ct.ThrowIfCancellationRequested();
            }
        }

        _current = null;
        Counters.Batch(batch.Points);
    }

    private async Task FlushLoopAsync()
    {
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(5).Ticks, _options.FlushInterval.Ticks / 4));
        using var timer = new PeriodicTimer(period, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                if (_current is null || _time.GetElapsedTime(_currentStarted) < _options.FlushInterval)
                {
                    continue;
                }

                await _appendLock.WaitAsync(_stop.Token).ConfigureAwait(false);
                try
                {
                    if (_current is not null && _time.GetElapsedTime(_currentStarted) >= _options.FlushInterval)
                    {
                        await SealAsync(_stop.Token).ConfigureAwait(false);
                    }
                }
                catch (SpoolFullException)
                {
                    // Fail policy: the batch stays current and writers get the exception.
                }
                finally
                {
                    _appendLock.Release();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task SendLoopAsync()
    {
        var reader = _queue.Reader;
        var stop = _stop.Token;
        var nextProbe = 0L;
        var inFlight = new List<Task<(Batch Batch, bool Delivered)>>(_options.MaxInFlightRequests);
        try
        {
            while (!stop.IsCancellationRequested)
            {
                if (!_spool.IsEmpty)
                {
                    // Replay mode: one request at a time, oldest first.
                    while (inFlight.Count > 0)
                    {
                        nextProbe = await CompleteOneAsync(inFlight, nextProbe).ConfigureAwait(false);
                    }

                    MoveQueuedIntoSpool(reader);
                    if (nextProbe != 0 && _time.GetTimestamp() < nextProbe)
                    {
                        await WaitForProbeOrWorkAsync(reader, nextProbe, stop).ConfigureAwait(false);
                        continue;
                    }

                    if (_spool.TryPeek(out var record))
                    {
                        if (await DeliverAsync(record.Payload, record.Points, stop).ConfigureAwait(false))
                        {
                            _spool.Acknowledge();
                            nextProbe = 0;
                            if (_spool.IsEmpty)
                            {
                                LogSpoolDrained(_logger);
                            }
                        }
                        else
                        {
                            nextProbe = NextProbe();
                        }

                        UpdateSpoolCounters();
                    }

                    continue;
                }

                if (inFlight.Count >= _options.MaxInFlightRequests)
                {
                    nextProbe = await CompleteOneAsync(inFlight, nextProbe).ConfigureAwait(false);
                    continue;
                }

                if (inFlight.Count > 0 && !reader.TryPeek(out _))
                {
                    // Wait for new work or for a request to finish, whichever comes first.
                    var read = reader.WaitToReadAsync(stop).AsTask();
                    var any = Task.WhenAny(inFlight);
                    if (await Task.WhenAny(read, any).ConfigureAwait(false) == any)
                    {
                        nextProbe = await CompleteOneAsync(inFlight, nextProbe).ConfigureAwait(false);
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
                    while (inFlight.Count > 0)
                    {
                        nextProbe = await CompleteOneAsync(inFlight, nextProbe).ConfigureAwait(false);
                    }

                    item.Flushed!.TrySetResult();
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
            LogSenderCrashed(_logger, e);
            throw;
        }
        finally
        {
            // Stopping: batches in flight or queued are spooled (unless this is a simulated kill); pending flushes are cancelled.
            foreach (var t in inFlight)
            {
                var (b, delivered) = await t.ConfigureAwait(false);
                if (!delivered)
                {
                    SpoolLeftover(b);
                }

                b.Dispose();
            }

            while (reader.TryRead(out var left))
            {
                if (left.Batch is { } b)
                {
                    SpoolLeftover(b);
                }

                left.Flushed?.TrySetCanceled(CancellationToken.None);
            }
        }
    }

    private async Task<(Batch Batch, bool Delivered)> SendLiveAsync(Batch batch, CancellationToken stop)
    {
        try
        {
            return (batch, await DeliverAsync(batch.Memory, batch.Points, stop).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return (batch, false);
        }
    }

    private async Task<long> CompleteOneAsync(List<Task<(Batch Batch, bool Delivered)>> inFlight, long nextProbe)
    {
        var done = await Task.WhenAny(inFlight).ConfigureAwait(false);
        inFlight.Remove(done);
        var (batch, delivered) = await done.ConfigureAwait(false);
        using (batch)
        {
            if (delivered)
            {
                return nextProbe;
            }

            if (_stop.IsCancellationRequested)
            {
                SpoolLeftover(batch);
                return nextProbe;
            }

            // Accepted batches are never dropped: when requests that failed alongside filled the spool, exceed the bound.
            _spool.TryAppend(batch.Memory.Span, batch.Points, force: true);
            Counters.Spooled(batch.Points);
            LogSpooling(_logger, batch.Points, _spool.PendingPoints);
            UpdateSpoolCounters();
            return NextProbe();
        }
    }

    private long NextProbe() => _time.GetTimestamp() + (long)(_options.ReplayProbeInterval.TotalSeconds * _time.TimestampFrequency);

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

    private async ValueTask<bool> DeliverAsync(ReadOnlyMemory<byte> body, int points, CancellationToken ct)
    {
        var outcome = await _sender.SendAsync(body, ct).ConfigureAwait(false);
        Counters.Request(outcome.Status == SendStatus.Unavailable);
        switch (outcome.Status)
        {
            case SendStatus.Delivered:
                Counters.Delivered(points);
                return true;
            case SendStatus.Rejected:
                LogRejected(_logger, outcome.HttpStatus, outcome.Message, points);
                return await BisectAsync(body, outcome, ct).ConfigureAwait(false);
            default:
                return false;
        }
    }

    private async ValueTask<bool> BisectAsync(ReadOnlyMemory<byte> body, SendOutcome outcome, CancellationToken ct)
    {
        var lines = body.Span.Count((byte)'\n');
        if (lines <= 1)
        {
            _deadLetters.Write(outcome.HttpStatus, outcome.Message, body.Span);
            Counters.DeadLettered(1);
            LogDeadLettered(_logger, outcome.Message, _deadLetters.Path);
            return true;
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
            var r = await _sender.SendAsync(part, ct).ConfigureAwait(false);
            Counters.Request(r.Status == SendStatus.Unavailable);
            if (r.Status == SendStatus.Unavailable)
            {
                return false;
            }

            if (r.Status == SendStatus.Delivered)
            {
                Counters.Delivered(part.Span.Count((byte)'\n'));
            }
            else if (!await BisectAsync(part, r, ct).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }

    private void SpoolLeftover(Batch batch)
    {
        if (!_killed && batch.Points > 0)
        {
            _spool.TryAppend(batch.Memory.Span, batch.Points, force: true);
            Counters.Spooled(batch.Points);
        }

        batch.Dispose();
    }

    private void UpdateSpoolCounters()
    {
        Counters.SpoolPoints = _spool.PendingPoints;
        Counters.SpoolBytes = _spool.SizeBytes;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Writing forecasts to {Influx}; spool in {Spool}.")]
    private static partial void LogStarted(ILogger logger, string influx, string spool);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB unavailable: spooled {Points} points ({Pending} points now waiting on disk).")]
    private static partial void LogSpooling(ILogger logger, int points, long pending);

    [LoggerMessage(Level = LogLevel.Information, Message = "Spool drained: InfluxDB has every spooled batch.")]
    private static partial void LogSpoolDrained(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB rejected part of a batch (HTTP {Status}: {Message}); isolating the rejected points among {Points}.")]
    private static partial void LogRejected(ILogger logger, int status, string message, int points);

    [LoggerMessage(Level = LogLevel.Error, Message = "Dead-lettered a point InfluxDB rejects ({Message}) to {Path}.")]
    private static partial void LogDeadLettered(ILogger logger, string message, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB did not take the last batches within {Seconds} s of shutdown; they are spooled (beyond the spool bound if needed) for the next start.")]
    private static partial void LogShutdownOverflow(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Critical, Message = "InfluxDB sender loop crashed.")]
    private static partial void LogSenderCrashed(ILogger logger, Exception exception);

    private readonly record struct Item(Batch? Batch, TaskCompletionSource? Flushed);

    private sealed class Batch(int initialBytes) : IDisposable
    {
        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(initialBytes);

        public int Length { get; private set; }

        public int Points { get; private set; }

        public ReadOnlyMemory<byte> Memory => _buffer.AsMemory(0, Length);

        public void Append(ReadOnlySpan<byte> lines, int count)
        {
            if (Length + lines.Length > _buffer.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + lines.Length));
                _buffer.AsSpan(0, Length).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = bigger;
            }

            lines.CopyTo(_buffer.AsSpan(Length));
            Length += lines.Length;
            Points += count;
        }

        public void Dispose()
        {
            var b = _buffer;
            _buffer = [];
            if (b.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(b);
            }
        }
    }
}
