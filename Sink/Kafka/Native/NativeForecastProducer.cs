using System.Diagnostics;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using StreamLstm.Model.Delivery;
using static StreamLstm.Sink.Kafka.Native.LibRdKafka;

namespace StreamLstm.Sink.Kafka.Native;

/// <summary>
/// The forecasts topic straight through librdkafka (<c>Kafka:ForecastProducePath=native</c>): its own producer handle,
/// configured as the client path's, rows produced with <c>rd_kafka_produce</c> and the copy flag from the encoder's scratch
/// buffer (the library keeps its own copy and hands it back in the delivery report, so retries and given-up rows read
/// it from there: no slab is held per row). The message opaque is a number, not a handle: the row's flush epoch's
/// sequence number (which finds the epoch in a ring) and its attempt count. Delivery reports come in bulk as events on
/// the main queue (<c>rd_kafka_conf_set_events</c>), served by one background thread that walks each event's message
/// array, completing runs of rows of one epoch at once. No delegate, handle or managed object is made per row or report.
/// </summary>
internal sealed unsafe partial class NativeForecastProducer : IForecastProducer
{
    private const int RingBits = 16;
    private const int AttemptBits = 8;
    private const int ReportBatch = 512;
    private static readonly TimeSpan FlushTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    // An epoch lives until every row counted in it is final; flushes make a new one every flush interval, so 65,536 epochs
    // cover far more than a message's delivery timeout (a row cannot outlive message.timeout.ms plus its retries).
    private readonly EpochTag?[] _ring = new EpochTag?[1 << RingBits];
    private readonly Func<DeliveryEpochs.Epoch, EpochTag> _register;
    private readonly ForecastDeliveryLedger _ledger;
    private readonly Thread _poller;
    private readonly byte* _retryHeaderName;
    private nint _rk;
    private nint _rkt;
    private nint _queue;
    private readonly string _name;
    private long _nextSeq;
    private volatile bool _stopPolling;
    private volatile bool _closing;
    private volatile string? _fatal;

    /// <summary>Creates the producer handle and starts the delivery-report thread.</summary>
    /// <param name="options">Settings (must not name a shared producer).</param>
    /// <param name="ledger">Shared accounting.</param>
    public NativeForecastProducer(KafkaForecastOutputOptions options, ForecastDeliveryLedger ledger)
    {
        if (options.SharedProducer is not null) throw new InvalidOperationException("The native forecasts produce path has its own producer; under exactly-once rows go through the transactional producer (use the client path).");
        if (options.DeliveryRetries is < 0 or >= 1 << AttemptBits) throw new ArgumentOutOfRangeException(nameof(options), options.DeliveryRetries, "DeliveryRetries must be 0..255 on the native produce path.");
        _ledger = ledger;
        _register = Register;
        var err = stackalloc byte[512];
        var conf = Fn.ConfNew();
        foreach (var (name, value) in ClientForecastProducer.Config(options))
        {
            // Keys the .NET client interprets itself, not librdkafka.
            if (name.StartsWith("dotnet.", StringComparison.Ordinal)) continue;
            fixed (byte* n = Utf8Z(name))
            fixed (byte* v = Utf8Z(value))
            {
                if (Fn.ConfSet(conf, n, v, err, 512) != 0)
                {
                    Fn.ConfDestroy(conf);
                    throw new ArgumentException($"Forecasts producer setting {name}={value} refused: {Marshal.PtrToStringUTF8((nint)err)}", nameof(options));
                }
            }
        }

        // Log lines become events on the main queue (served by the report thread, written to the ILogger), not stderr.
        fixed (byte* n = "log.queue\0"u8)
        fixed (byte* v = "true\0"u8) Fn.ConfSet(conf, n, v, err, 512);
        Fn.ConfSetEvents(conf, EventDr | EventError | EventLogType);
        _rk = Fn.New(Producer, conf, err, 512);
        if (_rk == 0)
        {
            Fn.ConfDestroy(conf);
            throw new InvalidOperationException($"Creating the native forecasts producer failed: {Marshal.PtrToStringUTF8((nint)err)}");
        }

        Fn.SetLogQueue(_rk, 0);
        _name = Str(Fn.Name(_rk));

        fixed (byte* topic = Utf8Z(options.Topic)) _rkt = Fn.TopicNew(_rk, topic, 0);
        _queue = Fn.QueueGetMain(_rk);
        var header = "streamlstm.retry\0"u8;
        _retryHeaderName = (byte*)NativeMemory.Alloc((nuint)header.Length);
        header.CopyTo(new Span<byte>(_retryHeaderName, header.Length));
        _poller = new Thread(PollLoop) { IsBackground = true, Name = "forecasts-native-dr" };
        _poller.Start();
    }

    /// <inheritdoc />
    public void Produce(byte[] key, ReadOnlySpan<byte> value, DeliveryEpochs.Epoch epoch, CancellationToken cancellationToken)
    {
        // Writing after dispose would hand a destroyed handle to the library: refuse it (as the client path does).
        ObjectDisposedException.ThrowIf(_rk == 0, this);
        var opaque = (nint)(epoch.Handler(_register).Seq << AttemptBits);
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            // Armed only once the queue was found full, then tried again at once, so a report in between is not missed.
            var armed = false;
            while (true)
            {
                if (armed) _ledger.Epochs.ArmProgress();
                if (Fn.Produce(_rkt, PartitionUa, MsgFCopy, v, (nuint)value.Length, k, (nuint)key.Length, opaque) == 0) return;
                var code = Fn.LastError();
                if (code == ErrQueueFull)
                {
                    if (armed)
                    {
                        var from = Stopwatch.GetTimestamp();
                        _ledger.Epochs.WaitForProgress(TimeSpan.FromMilliseconds(100), cancellationToken);
                        _ledger.QueueFullWaited(Stopwatch.GetTimestamp() - from);
                    }

                    armed = true;
                    continue;
                }

                if (code == ErrFatal) throw Fatal();

                // Refused at once (e.g. an unknown partition, a message too large): produced again, then given up.
                Failed(k, (nuint)key.Length, value, opaque, code);
                return;
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_rk == 0) return;
        // The delivery thread keeps serving reports while the library waits for its queue to drain.
        var flushed = Fn.Flush(_rk, (int)FlushTimeout.TotalMilliseconds) == ErrNoError;
        _closing = true;
        if (!flushed)
        {
            // Undelivered rows get failed reports now (given up, offsets held back) instead of vanishing in destroy.
            Fn.Purge(_rk, PurgeQueueAndInflight);
            Fn.Flush(_rk, (int)StopTimeout.TotalMilliseconds);
        }

        _stopPolling = true;
        if (!_poller.Join(StopTimeout)) LogPollerStuck(_ledger.Logger);
        Fn.QueueDestroy(_queue);
        Fn.TopicDestroy(_rkt);
        Fn.Destroy(_rk);
        _rk = 0;
        NativeMemory.Free(_retryHeaderName);
    }

    private EpochTag Register(DeliveryEpochs.Epoch epoch)
    {
        var tag = new EpochTag(Interlocked.Increment(ref _nextSeq), epoch);
        Volatile.Write(ref _ring[tag.Seq & ((1 << RingBits) - 1)], tag);
        return tag;
    }

    private EpochTag? Find(nint opaque)
    {
        var seq = (long)opaque >> AttemptBits;
        var tag = Volatile.Read(ref _ring[seq & ((1 << RingBits) - 1)]);
        if (tag is not null && tag.Seq == seq) return tag;
        LogUnknownEpoch(_ledger.Logger, seq);
        return null;
    }

    private void PollLoop()
    {
        var reports = stackalloc Message*[ReportBatch];
        while (!_stopPolling)
        {
            var ev = Fn.QueuePoll(_queue, 100);
            if (ev == 0) continue;
            try
            {
                var type = Fn.EventType(ev);
                if (type == EventDr)
                {
                    nuint n;
                    while ((n = Fn.EventMessageArray(ev, reports, ReportBatch)) > 0) Reports(reports, (int)n);
                }
                else if (type == EventError && Fn.EventErrorIsFatal(ev) != 0)
                {
                    var reason = FatalReason();
                    _fatal = reason;
                    _ledger.Fatal(reason);
                }
                else if (type == EventError)
                {
                    KafkaClientLog.TransientError(_ledger.Logger, _name, Str(Fn.EventErrorString(ev)));
                }
                else if (type == EventLogType)
                {
                    Log(ev);
                }
            }
            catch (Exception ex)
            {
                // A throw here would end the thread and strand every later report: log and keep serving.
                LogReportFailed(_ledger.Logger, ex);
            }
            finally
            {
                Fn.EventDestroy(ev);
            }
        }
    }

    /// <summary>A librdkafka log line, as the client path's log handler writes it.</summary>
    private void Log(nint ev)
    {
        byte* facility, text;
        int level;
        if (Fn.EventLogRead(ev, &facility, &text, &level) != 0) return;
        KafkaClientLog.Write(_ledger.Logger, new LogMessage(_name, (SyslogLevel)level, Str((nint)facility), Str((nint)text)));
    }

    /// <summary>One array of delivery reports: runs of delivered rows of one epoch complete together.</summary>
    private void Reports(Message** reports, int count)
    {
        EpochTag? run = null;
        nint runSeq = -1;
        var runRows = 0;
        for (var i = 0; i < count; i++)
        {
            var m = reports[i];
            var seqPart = m->Private >> AttemptBits;
            if (m->Err == ErrNoError)
            {
                if (runRows > 0 && seqPart == runSeq)
                {
                    runRows++;
                    continue;
                }

                if (runRows > 0) _ledger.OnDelivered(run!.Epoch, runRows);
                run = Find(m->Private);
                runSeq = seqPart;
                runRows = run is null ? 0 : 1;
                continue;
            }

            Failed(m->Key, m->KeyLen, new ReadOnlySpan<byte>(m->Payload, (int)m->Len), m->Private, m->Err);
        }

        if (runRows > 0) _ledger.OnDelivered(run!.Epoch, runRows);
    }

    /// <summary>A row refused or not delivered: produced again (up to the retries) or given up.</summary>
    private void Failed(byte* key, nuint keyLength, ReadOnlySpan<byte> value, nint opaque, int code)
    {
        if (Find(opaque) is not { } tag) return;
        var attempt = (int)(opaque & ((1 << AttemptBits) - 1));
        var reason = ErrorText(code);
        if (!_closing && _ledger.ShouldRetry(attempt, code == ErrFatal))
        {
            _ledger.Retrying(reason, attempt + 1);
            var again = ProduceAgain(key, keyLength, value, (opaque & ~(nint)((1 << AttemptBits) - 1)) | (nint)(attempt + 1));
            if (again == ErrNoError) return;
            _ledger.RetryFailed(ErrorText(again));
        }

        _ledger.GiveUp(value, reason, tag.Epoch);
    }

    /// <summary>Rare path: a retried row carries a <c>streamlstm.retry</c> header with its attempt (as the client path's).</summary>
    private int ProduceAgain(byte* key, nuint keyLength, ReadOnlySpan<byte> value, nint opaque)
    {
        var attempt = (byte)(opaque & ((1 << AttemptBits) - 1));
        fixed (byte* v = value)
        {
            var vu = stackalloc Vu[6];
            vu[0] = new Vu { Type = VtRkt, P0 = _rkt };
            vu[1] = new Vu { Type = VtKey, P0 = (nint)key, P1 = (nint)keyLength };
            vu[2] = new Vu { Type = VtValue, P0 = (nint)v, P1 = value.Length };
            vu[3] = new Vu { Type = VtOpaque, P0 = opaque };
            vu[4] = new Vu { Type = VtMsgFlags, I = MsgFCopy };
            vu[5] = new Vu { Type = VtHeader, P0 = (nint)_retryHeaderName, P1 = (nint)(&attempt), P2 = 1 };
            var error = Fn.ProduceVa(_rk, vu, 6);
            if (error == 0) return ErrNoError;
            var code = Fn.ErrorCode(error);
            Fn.ErrorDestroy(error);
            return code;
        }
    }

    private string FatalReason()
    {
        var buffer = stackalloc byte[512];
        var code = Fn.FatalError(_rk, buffer, 512);
        return $"{ErrorText(code)}: {Marshal.PtrToStringUTF8((nint)buffer)}";
    }

    private KafkaException Fatal() => new(new Error(ErrorCode.Local_Fatal, _fatal ?? FatalReason(), true));

    /// <summary>A flush epoch's number in the ring (made once per epoch).</summary>
    private sealed class EpochTag(long seq, DeliveryEpochs.Epoch epoch)
    {
        public long Seq { get; } = seq;

        public DeliveryEpochs.Epoch Epoch { get; } = epoch;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A forecast delivery report names flush epoch {Seq}, which is no longer known (a bug: its flush will not complete)")]
    private static partial void LogUnknownEpoch(ILogger logger, long seq);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handling forecast delivery reports failed")]
    private static partial void LogReportFailed(ILogger logger, Exception ex);

    [LoggerMessage(Level = LogLevel.Error, Message = "The forecasts delivery-report thread did not stop within its timeout at dispose; destroying the producer anyway")]
    private static partial void LogPollerStuck(ILogger logger);
}
