namespace StreamLstm.Model.Training;

/// <summary>One time series: per step an input row of I features and a target row of K values (e.g. the next K observations).</summary>
/// <param name="Inputs">Inputs <c>[N, I]</c>.</param>
/// <param name="Targets">Targets <c>[N, K]</c>.</param>
public sealed record TimeSeries(float[] Inputs, float[] Targets)
{
    /// <summary>Per-target loss mask <c>[N, K]</c>, ≥ 0 (null: all ones), e.g. 0 where a horizon runs past the data.</summary>
    public float[]? Mask { get; init; }

    /// <summary>Loss weight of every window cut from this series.</summary>
    public float Weight { get; init; } = 1f;
}

/// <summary>A set of series cut into windows for truncated BPTT.</summary>
public sealed class SeriesDataset
{
    /// <summary>Creates the dataset, checking that every series matches the sizes.</summary>
    /// <param name="inputSize">I.</param>
    /// <param name="horizons">K.</param>
    /// <param name="series">The series.</param>
    public SeriesDataset(int inputSize, int horizons, IReadOnlyList<TimeSeries> series)
    {
        ArgumentNullException.ThrowIfNull(series);
        ArgumentOutOfRangeException.ThrowIfLessThan(inputSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(horizons, 1);
        for (var i = 0; i < series.Count; i++)
        {
            var s = series[i];
            if (s.Inputs.Length % inputSize != 0) throw new ArgumentException($"Series {i}: {s.Inputs.Length} inputs is not a multiple of I={inputSize}.");
            if (s.Targets.Length != s.Inputs.Length / inputSize * horizons)
            {
                throw new ArgumentException($"Series {i}: {s.Targets.Length} targets for {s.Inputs.Length / inputSize} steps of K={horizons}.");
            }

            if (s.Mask is not null && s.Mask.Length != s.Targets.Length) throw new ArgumentException($"Series {i}: mask has {s.Mask.Length} values; targets have {s.Targets.Length}.");
            if (!(s.Weight >= 0)) throw new ArgumentException($"Series {i}: weight must be >= 0 (was {s.Weight}).");
        }

        InputSize = inputSize;
        Horizons = horizons;
        Series = series;
    }

    /// <summary>I.</summary>
    public int InputSize { get; }

    /// <summary>K.</summary>
    public int Horizons { get; }

    /// <summary>The series.</summary>
    public IReadOnlyList<TimeSeries> Series { get; }

    /// <summary>Steps in series <paramref name="i"/>.</summary>
    /// <param name="i">Series index.</param>
    /// <returns>N.</returns>
    public int Length(int i) => Series[i].Inputs.Length / InputSize;

    /// <summary>Every (series, start) where a window of <paramref name="span"/> steps fits, in order.</summary>
    /// <param name="span">Window length including warm-up.</param>
    /// <param name="stride">Distance between window starts.</param>
    /// <returns>Window starts.</returns>
    public List<(int Series, int Start)> Windows(int span, int stride)
    {
        var list = new List<(int, int)>();
        for (var s = 0; s < Series.Count; s++)
        {
            for (var start = 0; start + span <= Length(s); start += stride) list.Add((s, start));
        }

        return list;
    }

    /// <summary>Copies window inputs and targets into batch row <paramref name="row"/> of <c>[B, T, I]</c> and <c>[B, T, K]</c> buffers.</summary>
    /// <param name="series">Series.</param>
    /// <param name="start">First step.</param>
    /// <param name="steps">T.</param>
    /// <param name="row">Batch row.</param>
    /// <param name="x">Inputs buffer.</param>
    /// <param name="y">Targets buffer.</param>
    public void Copy(int series, int start, int steps, int row, Span<float> x, Span<float> y)
    {
        var s = Series[series];
        s.Inputs.AsSpan(start * InputSize, steps * InputSize).CopyTo(x[(row * steps * InputSize)..]);
        s.Targets.AsSpan(start * Horizons, steps * Horizons).CopyTo(y[(row * steps * Horizons)..]);
    }

    /// <summary>Copies a window's mask (ones where the series has none) into batch row <paramref name="row"/> of a <c>[B, T, K]</c> buffer.</summary>
    /// <param name="series">Series.</param>
    /// <param name="start">First step.</param>
    /// <param name="steps">T.</param>
    /// <param name="row">Batch row.</param>
    /// <param name="mask">Mask buffer.</param>
    public void CopyMask(int series, int start, int steps, int row, Span<float> mask)
    {
        var dst = mask.Slice(row * steps * Horizons, steps * Horizons);
        if (Series[series].Mask is { } m) m.AsSpan(start * Horizons, steps * Horizons).CopyTo(dst);
        else dst.Fill(1f);
    }
}
