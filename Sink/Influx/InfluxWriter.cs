using System.Buffers;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using StreamLstm.Sink.LineProtocol;
using StreamLstm.Sink.Spool;

namespace StreamLstm.Sink.Influx;

/// <summary>Thrown by <see cref="InfluxWriter"/> writes and flushes after its sender stopped on an unexpected error.</summary>
public sealed class InfluxSinkFaultedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What happened and what was kept.</param>
    /// <param name="inner">The error that stopped the sender.</param>
    public InfluxSinkFaultedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>
/// Batches line protocol (by points, bytes and time) and sends it to InfluxDB from one sender loop.
/// A batch that cannot be delivered goes to the <see cref="SegmentSpool"/> of this writer's destination; while the spool
/// holds anything, new batches are appended behind it (order kept) and the head is replayed whenever InfluxDB answers.
/// When the spool is full, writers wait (<see cref="SpoolFullPolicy.Backpressure"/>) or fail (<see cref="SpoolFullPolicy.Fail"/>).
/// A 400/413 is narrowed down by bisection (writes are idempotent; capped by <see cref="InfluxOptions.MaxBisectRequests"/>)
/// to the lines the server rejects, which go to the <see cref="DeadLetterFile"/> with the server's message; the rest is
/// delivered. 401/403/404 are configuration errors: data stays spooled, the error is logged once and shown in
/// <see cref="SinkCounters.ConfigurationErrorStatus"/>, and attempts back off up to
/// <see cref="InfluxOptions.ConfigurationErrorMaxBackoff"/>. If the sender loop itself fails, the writer faults: every
/// waiting and later write or flush throws <see cref="InfluxSinkFaultedException"/> instead of hanging.
/// </summary>
public sealed partial class InfluxWriter : IPointSink
{
    private readonly InfluxOptions _options;
    private readonly SpoolOptions _spoolOptions;
    private readonly InfluxEndpoint _endpoint;
    private readonly InfluxSender _sender;
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
    private volatile Exception? _fault;

    /// <summary>Creates the writer, opens (and verifies) its destination's spool and starts the sender.</summary>
    /// <param name="http">HTTP client (also used by InfluxDB.Client for v2).</param>
    /// <param name="options">Validated InfluxDB options with a URL.</param>
    /// <param name="spoolOptions">Spool options; <see cref="SpoolOptions.Directory"/> is the root holding one directory per destination.</param>
    /// <param name="deadLetterDirectory">Dead-letter directory.</param>
    /// <param name="time">Clock.</param>
    /// <param name="logger">Logger.</param>
    public InfluxWriter(HttpClient http, InfluxOptions options, SpoolOptions spoolOptions, string deadLetterDirectory, TimeProvider time, ILogger logger)
        : this(CreateTransport(http, options), options, spoolOptions, deadLetterDirectory, time, logger)
    {
    }

    internal InfluxWriter(IInfluxTransport transport, InfluxOptions options, SpoolOptions spoolOptions, string deadLetterDirectory, TimeProvider time, ILogger logger)
    {
        _options = options;
        _spoolOptions = spoolOptions;
        _time = time;
        _logger = logger;
        _endpoint = InfluxEndpoint.Create(options);
        _sender = new InfluxSender(transport, _endpoint.Description, options, time, logger);
        Destination = options.GetDestination();
        _deadLetters = new DeadLetterFile(deadLetterDirectory, time);
        try
        {
            _spool = SpoolCatalog.OpenFor(spoolOptions, Destination, deadLetterDirectory, logger);
        }
        catch
        {
            _sender.Dispose();
            throw;
        }

        UpdateSpoolCounters();
        SpoolCatalog.ReportOthers(spoolOptions.Directory, Destination, logger);
        _queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(options.MaxQueuedBatches) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        LogStarted(logger, options.ToString(), _sender.TransportName, _spool.Directory);
        _sendLoop = Task.Run(SendLoopAsync);
        _flushLoop = Task.Run(FlushLoopAsync);
    }

    /// <inheritdoc />
    public WritePrecision Precision => _options.Precision;

    /// <inheritdoc />
    public SinkCounters Counters { get; } = new();

    /// <summary>The spool of this writer's destination (corruption reports, depth).</summary>
    public SegmentSpool Spool => _spool;

    /// <summary>Where the points go; the spool directory is bound to it.</summary>
    public SpoolDestination Destination { get; }

    /// <summary>The dead-letter file.</summary>
    public DeadLetterFile DeadLetters => _deadLetters;

    /// <summary>The endpoint (log-safe).</summary>
    public InfluxEndpoint Endpoint => _endpoint;

    /// <summary>Name of the write transport (<c>v1 HTTP /write</c>, <c>v2 InfluxDB.Client</c>, ...).</summary>
    public string TransportName => _sender.TransportName;

    /// <inheritdoc />
    public ValueTask WriteAsync(LineProtocolBuffer lines, CancellationToken cancellationToken) =>
        lines.LineCount == 0 ? ValueTask.CompletedTask : WriteLinesAsync(lines.WrittenMemory, lines.LineCount, cancellationToken);

    /// <inheritdoc />
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ThrowIfFaulted();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await SealAsync(cancellationToken).ConfigureAwait(false);
            await _queue.Writer.WriteAsync(new Item(null, done), cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException) when (_fault is not null)
        {
            ThrowIfFaulted();
        }
        finally
        {
            _appendLock.Release();
        }

        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Readiness probe: whether InfluxDB answers its ping endpoint within <see cref="InfluxOptions.RequestTimeout"/>.</summary>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>True when the server answered; false when it did not, or the writer is faulted.</returns>
    public async Task<bool> PingAsync(CancellationToken cancellationToken = default)
    {
        if (_fault is not null)
        {
            return false;
        }

        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await _sender.PingAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Waits until the spool is empty (everything replayed), for shutdown drains, tests and <c>spool replay</c>.</summary>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>A task.</returns>
    public async Task WaitForSpoolDrainedAsync(CancellationToken cancellationToken)
    {
        while (!_spool.IsEmpty)
        {
            ThrowIfFaulted();
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
        catch (InfluxSinkFaultedException)
        {
            // Already logged when the sender stopped; StopAsync spools what is still in memory.
        }
        finally
        {
            await StopAsync(kill: false).ConfigureAwait(false);
        }
    }

    /// <summary>Takes responsibility for complete, already-encoded lines (copies them).</summary>
    /// <param name="data">Lines, each ending with <c>'\n'</c>.</param>
    /// <param name="count">Number of lines.</param>
    /// <param name="cancellationToken">Cancels waiting.</param>
    /// <returns>Completes when the lines are buffered, sent or spooled.</returns>
    internal async ValueTask WriteLinesAsync(ReadOnlyMemory<byte> data, int count, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        ThrowIfFaulted();
        Counters.Accepted(count);
        await _appendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
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
        catch (ChannelClosedException) when (_fault is not null)
        {
            ThrowIfFaulted();
        }
        finally
        {
            _appendLock.Release();
        }
    }

    /// <summary>Simulates a process kill: stops at once without flushing; in-memory batches are lost, the spool stays on disk.</summary>
    /// <returns>A task.</returns>
    internal ValueTask KillAsync() => StopAsync(kill: true);

    private static IInfluxTransport CreateTransport(HttpClient http, InfluxOptions options)
    {
        var endpoint = InfluxEndpoint.Create(options);
        return options.EffectiveApi == InfluxApi.V2 && options.V2Transport == InfluxV2Transport.Client
            ? new InfluxClientTransport(http, options, endpoint)
            : new HttpLineProtocolTransport(http, endpoint, options.Gzip);
    }

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

    private void ThrowIfFaulted()
    {
        if (_fault is { } fault)
        {
            throw new InfluxSinkFaultedException(
                $"The InfluxDB writer for {Destination} stopped after an unexpected error ({fault.GetType().Name}: {fault.Message}); it accepts nothing more. Batches it had taken are in the spool {_spool.Directory} where they could be written.",
                fault);
        }
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
        _sender.Dispose();
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
                ThrowIfFaulted();
                if (!_spool.IsEmpty && !_spool.HasRoomFor(batch.Length))
                {
                    // The batch stays current: nothing already accepted is dropped; callers see the exception until there is room.
                    throw new SpoolFullException($"The InfluxDB spool in '{_spool.Directory}' is full ({_spool.SizeBytes} bytes) and InfluxDB is not answering; raise Sink:Spool:MaxBytes or restore InfluxDB.");
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
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false) && _fault is null)
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
                catch (Exception e) when (e is SpoolFullException or InfluxSinkFaultedException or ChannelClosedException)
                {
                    // Fail policy or a faulted sender: the batch stays current and writers get the exception.
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

    private void SpoolLeftover(Batch batch)
    {
        try
        {
            if (!_killed && batch.Points > 0)
            {
                _spool.TryAppend(batch.Memory.Span, batch.Points, force: true);
                Counters.Spooled(batch.Points);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // The spool itself failed (disk full, removed): these points are lost to the sink; offsets were not committed for them.
            LogLeftoverLost(_logger, batch.Points, _spool.Directory, e);
        }
        finally
        {
            batch.Dispose();
        }
    }

    private void UpdateSpoolCounters()
    {
        Counters.SpoolPoints = _spool.PendingPoints;
        Counters.SpoolBytes = _spool.SizeBytes;
        Counters.PointsQuarantined = _spool.QuarantinedPoints;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Writing forecasts to {Influx} via {Transport}; spool in {Spool}.")]
    private static partial void LogStarted(ILogger logger, string influx, string transport, string spool);

    [LoggerMessage(Level = LogLevel.Warning, Message = "InfluxDB did not take the last batches within {Seconds} s of shutdown; they are spooled (beyond the spool bound if needed) for the next start.")]
    private static partial void LogShutdownOverflow(ILogger logger, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not spool {Points} points to {Spool}; they are lost to InfluxDB (their Kafka offsets were not committed).")]
    private static partial void LogLeftoverLost(ILogger logger, int points, string spool, Exception exception);

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
