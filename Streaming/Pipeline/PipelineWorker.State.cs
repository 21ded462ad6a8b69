using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;
using StreamLstm.Ingest.Consumer;
using StreamLstm.Streaming.Storage;

namespace StreamLstm.Streaming.Pipeline;

// The worker's part of durable state: eager restore on assignment, and capturing its partitions' changed state for a
// checkpoint (between micro-batches, with nothing pending).
internal sealed partial class PipelineWorker
{
    private readonly ConcurrentQueue<WorkerCheckpoint> _checkpoints = new();
    private readonly List<(PartitionState, long)> _previous = [];
    private readonly HashSet<PartitionState> _written = [];

    private void Assigned(List<PartitionState> partitions)
    {
        foreach (var ps in partitions)
        {
            // The partition's model (its checkpoint's version, swaps recorded after it) before any of its keys is loaded.
            var engine = _engines[(int)ps.Kind];
            var missing = engine?.MissingModels ?? 0;
            engine?.Assign(ps);
            if (engine is not null && engine.MissingModels > missing) LogModelMissing(_logger, Lane, engine.LastModelError);
            if (_state is { EagerRestore: true }) engine?.RestoreAll(ps);
        }
    }

    /// <summary>
    /// Before a message whose partition is on another model than the batch being filled, or at which a recorded swap takes
    /// effect: steps everything pending, then applies the partition's swaps (a batch is stepped by one model).
    /// </summary>
    private async ValueTask ModelBoundaryAsync(KindEngine engine, PartitionState ps, long offset, CancellationToken ct)
    {
        while (engine.Pending > 0) await engine.FlushAsync(_outputs, Metrics, ct).ConfigureAwait(true);
        var missing = engine.MissingModels;
        engine.EnterPartition(ps, offset);
        if (engine.MissingModels > missing) LogModelMissing(_logger, Lane, engine.LastModelError);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Worker {Lane}: {Error}")]
    private static partial void LogModelMissing(ILogger logger, int lane, string? error);

    /// <summary>
    /// Puts the changed state of <paramref name="partitions"/> and the offsets it corresponds to in this lane's slot of
    /// <paramref name="capture"/>. A partition is included when it read something since its state was last stored, or had
    /// keys change, or its previous capture did not become durable.
    /// </summary>
    private void Capture(CheckpointCapture capture, List<PartitionState> partitions)
    {
        var part = _checkpoints.TryDequeue(out var reused) ? reused : new WorkerCheckpoint(_checkpoints);
        var sequence = capture.Sequence;
        _previous.Clear();
        _written.Clear();
        foreach (var ps in partitions)
        {
            if (ps.Released) continue;
            _previous.Add((ps, ps.CaptureSequence));
            ps.CaptureSequence = sequence;
        }

        foreach (var e in _engines)
        {
            e?.Capture(sequence, part.Batch, _previous, _written);
        }

        foreach (var (ps, previous) in _previous)
        {
            var offset = ps.ReadOffset;
            if (offset < 0) continue;
            if (offset == ps.StateOffset && !_written.Contains(ps) && previous <= ps.StateSequence) continue;
            part.Batch.SetOffset(ps.Kind, ps.Partition, offset);
            part.Partitions.Add(new PartitionCheckpoint(ps, offset));
        }

        capture.Lanes[Lane] = part;
    }
}

/// <summary>A worker's part of a checkpoint: its partitions' records and offsets; pooled per worker.</summary>
internal sealed class WorkerCheckpoint(ConcurrentQueue<WorkerCheckpoint> pool) : LaneCheckpoint
{
    /// <summary>Records and offsets.</summary>
    public CheckpointBatch Batch { get; } = new();

    /// <inheritdoc />
    public override void Release()
    {
        Batch.Clear();
        Partitions.Clear();
        pool.Enqueue(this);
    }
}

/// <summary>Durable state for the pipeline: the store and how partitions are restored.</summary>
/// <param name="Store">The state store.</param>
/// <param name="EagerRestore">Load a partition's keys when it is assigned (else on each key's first event).</param>
/// <param name="KeyTtl">State:KeyTtl: keys idle longer than this in their partition's event time are deleted at a checkpoint (null: never).</param>
/// <param name="Changelog">Where a hot swap's record is published when it happens (null: it reaches the changelog with the next checkpoint).</param>
public sealed record DurableState(IStateStore Store, bool EagerRestore = false, TimeSpan? KeyTtl = null, Changelog.IChangelog? Changelog = null);
