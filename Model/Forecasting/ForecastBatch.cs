namespace StreamLstm.Model.Forecasting;

/// <summary>
/// A reusable, struct-of-arrays batch of forecasts: one row per event, all rows of one <see cref="SourceKind"/>.
/// The pipeline fills it without allocating per event, scores each row once (<see cref="Scores"/>, <see cref="Alerts"/>)
/// and hands it to every <see cref="IForecastOutput"/>.
/// Row <c>r</c>'s means are <c>Mu[r*Horizons .. (r+1)*Horizons)</c>, likewise <see cref="Sigma"/>.
/// </summary>
public sealed partial class ForecastBatch
{
    /// <summary>Creates a batch that holds up to <paramref name="capacity"/> rows of <paramref name="horizons"/> horizons.</summary>
    /// <param name="source">Source kind of every row.</param>
    /// <param name="horizons">K, forecast horizons per row.</param>
    /// <param name="capacity">Maximum rows.</param>
    public ForecastBatch(SourceKind source, int horizons, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(horizons, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Source = source;
        Horizons = horizons;
        Keys = new string[capacity];
        TimestampsMs = new long[capacity];
        Observed = new double[capacity];
        Mu = new float[capacity * horizons];
        Sigma = new float[capacity * horizons];
        Partitions = new int[capacity];
        Offsets = new long[capacity];
        ReceivedTicks = new long[capacity];
    }

    /// <summary>Source kind of every row.</summary>
    public SourceKind Source { get; }

    /// <summary>K, forecast horizons per row.</summary>
    public int Horizons { get; }

    /// <summary>Model version that produced the rows.</summary>
    public string ModelVersion { get; set; } = "unknown";

    /// <summary>Rows in use.</summary>
    public int Count { get; set; }

    /// <summary>Maximum rows.</summary>
    public int Capacity => Keys.Length;

    /// <summary>Entity key per row (symbol, patient id, audio stream id).</summary>
    public string[] Keys { get; }

    /// <summary>Event time per row, Unix epoch milliseconds.</summary>
    public long[] TimestampsMs { get; }

    /// <summary>Observed value per row (price, heart rate, frame energy), in original units.</summary>
    public double[] Observed { get; }

    /// <summary>Forecast means, <c>[Count, Horizons]</c> row-major, in original units.</summary>
    public float[] Mu { get; }

    /// <summary>Forecast standard deviations, <c>[Count, Horizons]</c> row-major, in original units.</summary>
    public float[] Sigma { get; }

    /// <summary>Source Kafka partition per row (-1 when the event did not come from Kafka).</summary>
    public int[] Partitions { get; }

    /// <summary>Source Kafka offset per row (-1 when the event did not come from Kafka).</summary>
    public long[] Offsets { get; }

    /// <summary>
    /// Per row, the <see cref="System.Diagnostics.Stopwatch"/> timestamp at which its event arrived in the process (its
    /// consumer poll round), the origin of the in-process latency; 0 when not known.
    /// </summary>
    public long[] ReceivedTicks { get; }

    /// <summary>Row <paramref name="row"/>'s means.</summary>
    /// <param name="row">Row index.</param>
    /// <returns>A span of <see cref="Horizons"/> values.</returns>
    public ReadOnlySpan<float> MuOf(int row) => Mu.AsSpan(row * Horizons, Horizons);

    /// <summary>Row <paramref name="row"/>'s standard deviations.</summary>
    /// <param name="row">Row index.</param>
    /// <returns>A span of <see cref="Horizons"/> values.</returns>
    public ReadOnlySpan<float> SigmaOf(int row) => Sigma.AsSpan(row * Horizons, Horizons);

    /// <summary>Empties the batch for reuse.</summary>
    public void Clear()
    {
        Count = 0;
        Alerts.Clear();
    }
}
