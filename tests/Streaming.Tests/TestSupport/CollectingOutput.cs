using System.Collections.Concurrent;
using StreamLstm.Model.Forecasting;

namespace StreamLstm.Streaming.Tests.TestSupport;

/// <summary>One forecast row copied out of a batch.</summary>
public sealed record ForecastRow(SourceKind Source, string Key, long TimestampMs, double Observed, float[] Mu, float[] Sigma, int Partition, long Offset, string ModelVersion);

/// <summary>An output that copies every row (optionally gated, to simulate a slow output).</summary>
public sealed class CollectingOutput : IForecastOutput
{
    private readonly SemaphoreSlim? _gate;

    public CollectingOutput(SemaphoreSlim? gate = null) => _gate = gate;

    public ConcurrentQueue<ForecastRow> Rows { get; } = new();

    public int Count => Rows.Count;

    /// <summary>Each row's score as the pipeline gave it, by (source, key, partition, offset).</summary>
    public ConcurrentQueue<(SourceKind Source, string Key, int Partition, long Offset, RowScore Score)> Scores { get; } = new();

    /// <summary>Every alert event the batches carried.</summary>
    public ConcurrentQueue<AlertEvent> Alerts { get; } = new();

    private readonly List<(int Target, TaskCompletionSource Done)> _waiters = [];

    /// <summary>Completes when at least <paramref name="target"/> rows have arrived.</summary>
    public Task WhenCount(int target)
    {
        lock (_waiters)
        {
            if (Rows.Count >= target) return Task.CompletedTask;
            var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((target, tcs));
            return tcs.Task;
        }
    }

    /// <summary>Waits for <paramref name="target"/> rows, failing with a message naming <paramref name="phase"/>.</summary>
    public async Task WaitForCount(int target, TimeSpan timeout, string phase)
    {
        try
        {
            await WhenCount(target).WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{phase}: timed out after {timeout.TotalSeconds:0}s with {Count} of {target} forecasts");
        }
    }

    public async ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
    {
        if (_gate is not null) await _gate.WaitAsync(cancellationToken);
        for (var r = 0; r < batch.Count; r++)
        {
            Rows.Enqueue(new ForecastRow(batch.Source, batch.Keys[r], batch.TimestampsMs[r], batch.Observed[r], batch.MuOf(r).ToArray(), batch.SigmaOf(r).ToArray(), batch.Partitions[r], batch.Offsets[r], batch.ModelVersion));
            Scores.Enqueue((batch.Source, batch.Keys[r], batch.Partitions[r], batch.Offsets[r], batch.Scores[r]));
        }

        foreach (var alert in batch.Alerts) Alerts.Enqueue(alert);

        lock (_waiters)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (Rows.Count >= _waiters[i].Target)
                {
                    _waiters[i].Done.TrySetResult();
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
