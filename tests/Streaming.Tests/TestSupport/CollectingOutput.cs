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

    public async ValueTask WriteAsync(ForecastBatch batch, CancellationToken cancellationToken)
    {
        if (_gate is not null) await _gate.WaitAsync(cancellationToken);
        for (var r = 0; r < batch.Count; r++)
        {
            Rows.Enqueue(new ForecastRow(batch.Source, batch.Keys[r], batch.TimestampsMs[r], batch.Observed[r], batch.MuOf(r).ToArray(), batch.SigmaOf(r).ToArray(), batch.Partitions[r], batch.Offsets[r], batch.ModelVersion));
        }
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
