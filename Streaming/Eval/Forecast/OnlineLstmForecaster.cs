using System.Runtime.InteropServices;
using StreamLstm.Model.Training;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>Calendar inputs taken from the timestamp.</summary>
[Flags]
public enum CalendarFeatures
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary>sin/cos of the time of day.</summary>
    TimeOfDay = 1,

    /// <summary>sin/cos of the day of the week.</summary>
    DayOfWeek = 2,
}

/// <summary>
/// One key's view of the <see cref="OnlineLstmLearner"/>. Each row: build the row's features (one-step change and level
/// deviation in running-scale units, the seasonal-naive offsets per horizon, optional calendar), step the key's state once
/// and forecast <c>y[t] + s·μ</c> with σ = <c>s·exp(log σ)</c> for the key's next K rows; then the learner may fine-tune.
/// No forecast is made before the learner's first fit.
/// </summary>
public sealed class OnlineLstmForecaster : OnlineForecaster
{
    private const float FeatureClamp = 8f;
    private const float TargetClamp = 20f;

    // σ is at least 5 % of the running scale: on intermittent series the model learns a near-zero σ for flat stretches,
    // and the first jump after one would otherwise cost an unbounded NLL.
    private const float MinLogSigma = -3f;
    private readonly OnlineLstmLearner _learner;
    private readonly SeriesHistory _history;
    private readonly List<float> _x = [];
    private readonly List<double> _scale = [];
    private readonly float[] _mu;
    private readonly float[] _logSigma;

    internal OnlineLstmForecaster(OnlineLstmLearner learner, SeriesHistory history, int slot)
        : base(learner.Horizons)
    {
        _learner = learner;
        _history = history;
        Slot = slot;
        _mu = new float[Horizons];
        _logSigma = new float[Horizons];
    }

    /// <inheritdoc/>
    public override string Name => ForecastOutputs.LstmAlone;

    /// <summary>The key's state slot.</summary>
    public int Slot { get; }

    /// <summary>Learner-wide row of this key's latest row.</summary>
    public long LastGlobalRow { get; private set; }

    /// <inheritdoc/>
    protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
    {
        var t = _history.Count - 1;
        var s = _history.DiffScale;
        AppendFeatures(t, value, s, timeMs);
        LastGlobalRow = _learner.GlobalRow;
        mu.Fill(double.NaN);
        rawSigma.Fill(double.NaN);
        if (!_learner.Step(Slot, Inputs(t, 1), _mu, _logSigma)) return;
        for (var k = 0; k < Horizons; k++)
        {
            mu[k] = value + (s * _mu[k]);
            rawSigma[k] = s * Math.Exp(Math.Clamp(_logSigma[k], MinLogSigma, 20f));
        }
    }

    /// <inheritdoc/>
    protected override void Learn() => _learner.RowDone();

    /// <summary>Inputs of rows [from, from + count).</summary>
    internal ReadOnlySpan<float> Inputs(int from, int count) => CollectionsMarshal.AsSpan(_x).Slice(from * _learner.InputSize, count * _learner.InputSize);

    /// <summary>Rows [from, to] as a training series: targets <c>(y[r+k] − y[r]) / s[r]</c> (all must be known).</summary>
    internal TimeSeries Series(int from, int to)
    {
        var n = to - from + 1;
        var y = new float[n * Horizons];
        for (var r = 0; r < n; r++)
        {
            var row = from + r;
            for (var k = 1; k <= Horizons; k++) y[(r * Horizons) + k - 1] = Clamp((_history[row + k] - _history[row]) / _scale[row], TargetClamp);
        }

        return new TimeSeries(Inputs(from, n).ToArray(), y);
    }

    private void AppendFeatures(int t, double value, double s, long? timeMs)
    {
        _scale.Add(s);
        _x.Add(t == 0 ? 0f : Clamp((value - _history[t - 1]) / s));
        _x.Add(Clamp(_history.LevelZ));
        for (var k = 1; k <= Horizons; k++)
        {
            var seasonal = _history.Period > 0 ? _history.SeasonalValue(k) : double.NaN;
            _x.Add(double.IsFinite(seasonal) ? Clamp((seasonal - value) / s) : 0f);
        }

        var calendar = _learner.Calendar;
        if (calendar == CalendarFeatures.None) return;
        var ms = timeMs ?? 0;
        if (calendar.HasFlag(CalendarFeatures.TimeOfDay))
        {
            var day = (double)(((ms % 86_400_000) + 86_400_000) % 86_400_000) / 86_400_000;
            _x.Add((float)Math.Sin(2 * Math.PI * day));
            _x.Add((float)Math.Cos(2 * Math.PI * day));
        }

        if (calendar.HasFlag(CalendarFeatures.DayOfWeek))
        {
            var week = (double)(((ms % 604_800_000) + 604_800_000) % 604_800_000) / 604_800_000;
            _x.Add((float)Math.Sin(2 * Math.PI * week));
            _x.Add((float)Math.Cos(2 * Math.PI * week));
        }
    }

    private static float Clamp(double v, float limit = FeatureClamp) => double.IsFinite(v) ? (float)Math.Clamp(v, -limit, limit) : 0f;
}
