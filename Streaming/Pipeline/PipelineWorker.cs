using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Ingest.Decoding;
using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Streaming.Pipeline;

/// <summary>
/// A partition-affine worker: it reads chunks from its own bounded channel, owns every key of its partitions (so state
/// needs no locks), forms micro-batches across keys per source kind (max size, max wait; an event of a key already in the batch
/// waits for the next one), steps them and hands each <see cref="ForecastBatch"/> to every output. Bad messages go to the
/// DLQ, events older than their key's last go to the late topic, redeliveries are skipped by offset.
/// Processing depends only on the messages' order per partition, so it is deterministic.
/// </summary>
internal sealed partial class PipelineWorker
{
    private readonly DurableState? _state;
    private readonly LaneMailbox? _mailbox;
    private readonly ILogger _logger;
    private readonly ChannelReader<MessageChunk> _input;
    private readonly KindEngine?[] _engines = new KindEngine?[3];
    private readonly IReadOnlyList<IForecastOutput> _outputs;
    private readonly IDeadLetterSink _deadLetters;
    private readonly int _maxMessageBytes;
    private readonly long _maxWaitTicks;
    private readonly TimeProvider _time;

    public PipelineWorker(int lane, ChannelReader<MessageChunk> input, IReadOnlyDictionary<SourceKind, LstmModel> models,
        IReadOnlyList<IForecastOutput> outputs, IDeadLetterSink deadLetters, PipelineOptions options, TimeProvider time, ILogger logger,
        Func<SourceKind, EventDecoder>? decoders = null, DurableState? state = null, LaneMailbox? mailbox = null)
    {
        _state = state;
        _mailbox = mailbox;
        Lane = lane;
        _logger = logger;
        _input = input;
        _outputs = outputs;
        _deadLetters = deadLetters;
        _maxMessageBytes = options.MaxMessageBytes;
        _time = time;
        _maxWaitTicks = (long)(options.MaxWait.TotalSeconds * time.TimestampFrequency);
        foreach (var (kind, model) in models)
        {
            _engines[(int)kind] = new KindEngine(kind, model, options, time, decoders?.Invoke(kind), state?.Store, Metrics, state?.KeyTtl) { Changelog = state?.Changelog };
        }
    }

    public int Lane { get; }

    public WorkerMetrics Metrics { get; } = new();

    /// <summary>The engine for <paramref name="kind"/> (null when the kind has no model).</summary>
    public KindEngine? Engine(SourceKind kind) => _engines[(int)kind];

    /// <summary>Runs until the channel completes and is drained, then flushes what is pending. Its awaits come back to the
    /// worker's own thread when it runs on one (<see cref="WorkerThread"/>), so the loop never holds a pool thread.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (true)
        {
            await TakeMailAsync(ct).ConfigureAwait(true);
            while (_input.TryRead(out var chunk))
            {
                await ProcessAsync(chunk, ct).ConfigureAwait(true);
                await TakeMailAsync(ct).ConfigureAwait(true);
            }

            if (!HasPending)
            {
                var idleFrom = _time.GetTimestamp();
                Volatile.Write(ref Metrics.InputWaitSince, idleFrom);
                var more = await _input.WaitToReadAsync(ct).ConfigureAwait(true);
                CountInputWait(idleFrom);
                if (!more) break;
                continue;
            }

            // Input is idle with rows waiting: flush now if the oldest has waited long enough, else wait for more input.
            var waited = _time.GetTimestamp() - OldestPendingTicks;
            if (waited >= _maxWaitTicks)
            {
                await FlushAllAsync(ct).ConfigureAwait(true);
                continue;
            }

            var remaining = TimeSpan.FromSeconds((double)(_maxWaitTicks - waited) / _time.TimestampFrequency);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(remaining);
            var waitFrom = _time.GetTimestamp();
            Volatile.Write(ref Metrics.InputWaitSince, waitFrom);
            try
            {
                var more = await _input.WaitToReadAsync(timeout.Token).ConfigureAwait(true);
                CountInputWait(waitFrom);
                if (!more)
                {
                    break;
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                CountInputWait(waitFrom);
                await FlushAllAsync(ct).ConfigureAwait(true);
            }
        }

        await FlushAllAsync(ct).ConfigureAwait(true);
    }

    /// <summary>Adds the time since <paramref name="from"/> to the worker's input waits (only on the idle path: no cost per event).</summary>
    private void CountInputWait(long from)
    {
        Volatile.Write(ref Metrics.InputWaitSince, 0);
        Metrics.InputWaits++;
        Metrics.InputWaitNs += (long)((_time.GetTimestamp() - from) * 1e9 / _time.TimestampFrequency);
    }

    /// <summary>Handles control items left in the mailbox (checkpoint captures), between two chunks.</summary>
    private async ValueTask TakeMailAsync(CancellationToken ct)
    {
        if (_mailbox is null) return;
        while (_mailbox.TryTake(out var control))
        {
            await ControlAsync(control, ct).ConfigureAwait(true);
        }
    }

    private bool HasPending => (_engines[0]?.Pending ?? 0) + (_engines[1]?.Pending ?? 0) + (_engines[2]?.Pending ?? 0) > 0;

    private long OldestPendingTicks => Math.Min(_engines[0]?.OldestTicks ?? long.MaxValue, Math.Min(_engines[1]?.OldestTicks ?? long.MaxValue, _engines[2]?.OldestTicks ?? long.MaxValue));

    private async ValueTask FlushAllAsync(CancellationToken ct)
    {
        foreach (var e in _engines)
        {
            // Each flush moves deferred rows into the next batch: repeat until none is left.
            while (e is { Pending: > 0 }) await e.FlushAsync(_outputs, Metrics, ct).ConfigureAwait(true);
        }
    }

    private async ValueTask ProcessAsync(MessageChunk chunk, CancellationToken ct)
    {
        if (chunk.Kind != ChunkKind.Messages)
        {
            await ControlAsync(chunk, ct).ConfigureAwait(true);
            return;
        }

        try
        {
            PrefetchStart(chunk);
            for (var i = 0; i < chunk.Count; i++)
            {
                PrefetchAhead(chunk, i);
                var ps = chunk.Partitions[i];
                var engine = _engines[(int)ps.Kind];
                if (engine is null)
                {
                    NoModel(ps, chunk, i);
                    continue;
                }
                if (engine.PartitionModels > 0 && engine.NeedsBoundary(ps, chunk.Offsets[i])) await ModelBoundaryAsync(engine, ps, chunk.Offsets[i], ct).ConfigureAwait(true);
                Handle(engine, ps, chunk, i);
                // A full batch, or a full queue of repeated keys waiting for the next one, is stepped now.
                if (engine.IsFull || engine.DeferredFull)
                {
                    await engine.FlushAsync(_outputs, Metrics, ct).ConfigureAwait(true);
                }
            }
        }
        finally
        {
            chunk.Release();
            UpdateKeyCount();
        }
    }

    /// <summary>Handles message <paramref name="i"/>: a row in the batch, a deferred row (its key is in the batch already), a dead letter or a late event.</summary>
    private void Handle(KindEngine engine, PartitionState ps, MessageChunk chunk, int i)
    {
        var offset = chunk.Offsets[i];
        if (ps.Released) return;
        if (offset < ps.ReadOffset)
        {
            Metrics.Duplicates++;
            return;
        }

        // Spans over the message's arrays (client consume path) or the chunk's packed buffer (native): same bytes either way.
        var value = chunk.ValueOf(i);
        var key = chunk.KeyOf(i);
        DeadLetterReason reason;
        long ts = 0;
        var slot = -1;
        if (value.IsEmpty)
        {
            reason = DeadLetterReason.MalformedJson;
        }
        else if (value.Length > _maxMessageBytes)
        {
            reason = DeadLetterReason.Oversized;
        }
        else
        {
            // The decoder also resolves the key: Kafka key vs JSON id (missing_key, key_mismatch, invalid_key).
            ReadOnlySpan<byte> k;
            try
            {
                reason = engine.Decoder.Decode(value, key, engine.Raw, out ts, out k);
            }
            catch (Exception ex)
            {
                // A decoder bug must not stop the service on one message (and again on every restart): set it aside.
                var n = Metrics.DeadLetters[(int)DeadLetterReason.DecoderError] + 1;
                // First few, then every 1000th: a stream of them must not flood the log.
                if (n <= 10 || n % 1000 == 0) LogDecoderError(_logger, ex, Lane, ps.Topic, ps.Partition, offset, n);
                reason = DeadLetterReason.DecoderError;
                k = default;
            }

            if (reason == DeadLetterReason.None) slot = engine.SlotFor(ps, k);
        }

        Metrics.Events++;
        ps.ReadOffset = offset + 1;
        if (reason != DeadLetterReason.None)
        {
            Metrics.DeadLetters[(int)reason]++;
            _deadLetters.DeadLetter(reason, ps, offset, chunk.KeyArray(i), chunk.ValueArray(i));
        }
        else
        {
            var last = engine.LastTimestamp(slot);
            if (ts < last)
            {
                Metrics.Late++;
                _deadLetters.Late(ps, offset, chunk.KeyArray(i), chunk.ValueArray(i), last);
            }
            else
            {
                // A repeated key waits for the next batch instead of cutting this one short.
                if (engine.MustDefer(slot)) engine.Defer(slot, ts, ps, offset, chunk.ReceivedTicks[i]);
                else engine.Add(slot, ts, ps, offset, chunk.ReceivedTicks[i]);
                return;
            }
        }

        // Nothing of this message waits in a batch: if nothing else of its partition does, it is handed over.
        if (ps.PendingRows == 0) ps.MarkCommittable(ps.ReadOffset);
    }

    /// <summary>A message of a kind this worker has no model for: dead-lettered, never dropped silently.</summary>
    private void NoModel(PartitionState ps, MessageChunk chunk, int i)
    {
        var offset = chunk.Offsets[i];
        if (ps.Released || offset < ps.ReadOffset) return;
        Metrics.Events++;
        ps.ReadOffset = offset + 1;
        Metrics.DeadLetters[(int)DeadLetterReason.UnknownTopic]++;
        _deadLetters.DeadLetter(DeadLetterReason.UnknownTopic, ps, offset, chunk.KeyArray(i), chunk.ValueArray(i));
        if (ps.PendingRows == 0) ps.MarkCommittable(ps.ReadOffset);
    }

    private async ValueTask ControlAsync(MessageChunk chunk, CancellationToken ct)
    {
        var done = chunk.Done;
        try
        {
            switch (chunk.Kind)
            {
                case ChunkKind.Assigned:
                    Assigned(chunk.Control);
                    break;
                case ChunkKind.Drain:
                case ChunkKind.Checkpoint:
                    // Nothing may be pending when state is captured: every row read is then in the state and handed over.
                    await FlushAllAsync(ct).ConfigureAwait(true);
                    if (chunk.Capture is { } capture) Capture(capture, chunk.Control);
                    break;
                case ChunkKind.Revoked:
                case ChunkKind.Lost:
                    // Rows of these partitions may sit in a batch: hand them over first (offsets then become final).
                    await FlushAllAsync(ct).ConfigureAwait(true);
                    if (chunk.Kind == ChunkKind.Revoked && chunk.Capture is { } last) Capture(last, chunk.Control);
                    foreach (var ps in chunk.Control)
                    {
                        _engines[(int)ps.Kind]?.Release(ps);
                        ps.Released = true;
                    }

                    break;
            }

            UpdateKeyCount();
            done?.TrySetResult();
        }
        catch (Exception ex)
        {
            done?.TrySetException(ex);
            throw;
        }
        finally
        {
            chunk.Release();
        }
    }

    private void UpdateKeyCount()
    {
        long keys = 0;
        foreach (var e in _engines) keys += e?.Slab.Count ?? 0;
        Metrics.Keys = keys;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker {Lane}: the decoder threw on {Topic}[{Partition}]@{Offset}; the message goes to the DLQ as decoder_error ({Count} so far)")]
    private static partial void LogDecoderError(ILogger logger, Exception ex, int lane, string topic, int partition, long offset, long count);
}
