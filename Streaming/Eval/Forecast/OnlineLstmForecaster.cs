using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
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
/// The LSTM learned online. Each row: build the row's features (one-step change and level deviation in running-scale
/// units, the seasonal-naive offsets per horizon, optional calendar), step the serving state once, and forecast
/// <c>y[t] + s·μ</c> with σ = <c>s·exp(log σ)</c> for the next K rows. Every <see cref="OnlineLstmSettings.RetrainEvery"/>
/// rows a copy of the serving weights is fine-tuned through <see cref="ILstmTrainer.Fit"/> (Adam resumed across
/// fine-tunes, warm-up + cosine learning-rate schedule, dropout, early stopping on the most recent rows held out) on the
/// replay window of recent rows, and promoted only when it beats the serving model's holdout NLL; the serving state is
/// then re-warmed by running the promoted model over the last rows. No forecast is made before the first fit.
/// </summary>
public sealed class OnlineLstmForecaster : OnlineForecaster, IDisposable
{
    private const float FeatureClamp = 8f;
    private const float TargetClamp = 20f;
    private readonly OnlineLstmSettings _s;
    private readonly SeriesHistory _history;
    private readonly CalendarFeatures _calendar;
    private readonly int _inputs;
    private readonly int _expectedFits;
    private LstmModel _model;
    private AdamState? _adam;
    private readonly List<float> _x = [];
    private readonly List<double> _scale = [];
    private readonly StateSlab _slab;
    private readonly int[] _slot;
    private readonly float[] _mu;
    private readonly float[] _logSigma;
    private LstmStepper? _stepper;

    /// <summary>Creates the forecaster with random weights.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="history">Shared history (the caller appends each row before <see cref="OnlineForecaster.Step"/>).</param>
    /// <param name="settings">Settings.</param>
    /// <param name="calendar">Calendar inputs (need dates).</param>
    /// <param name="expectedRows">Rows the run is expected to have (sets the length of the learning-rate decay).</param>
    public OnlineLstmForecaster(int horizons, SeriesHistory history, OnlineLstmSettings settings, CalendarFeatures calendar, int expectedRows)
        : base(horizons)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _s = settings;
        _history = history;
        _calendar = calendar;
        _inputs = InputCount(horizons, calendar);
        _model = LstmModel.CreateRandom(new LstmConfig(_inputs, settings.Hidden, settings.Layers, horizons), settings.Seed);
        _expectedFits = Math.Max(1, expectedRows / settings.RetrainEvery);
        Device = TrainerFactory.Resolve(settings.Device).ToString().ToLowerInvariant();
        _slab = new StateSlab(_model.Config, 1);
        _slot = [_slab.Allocate()];
        _mu = new float[horizons];
        _logSigma = new float[horizons];
    }

    /// <inheritdoc/>
    public override string Name => "lstm-online";

    /// <summary>Inputs per row.</summary>
    public int InputSize => _inputs;

    /// <summary>Where the trainer runs (<c>cpu</c> or <c>gpu</c>).</summary>
    public string Device { get; }

    /// <summary>Fine-tunes run.</summary>
    public int Fits { get; private set; }

    /// <summary>Candidates promoted.</summary>
    public int Promotions { get; private set; }

    /// <summary>Optimizer steps taken.</summary>
    public int OptimizerSteps => _adam?.Step ?? 0;

    /// <summary>Row of the first forecast (-1 before it).</summary>
    public int FirstForecastRow { get; private set; } = -1;

    /// <summary>Inputs per row for <paramref name="horizons"/> and <paramref name="calendar"/>.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="calendar">Calendar inputs.</param>
    /// <returns>I.</returns>
    public static int InputCount(int horizons, CalendarFeatures calendar) =>
        2 + horizons + (calendar.HasFlag(CalendarFeatures.TimeOfDay) ? 2 : 0) + (calendar.HasFlag(CalendarFeatures.DayOfWeek) ? 2 : 0);

    /// <inheritdoc/>
    protected override void Predict(double value, long? timeMs, Span<double> mu, Span<double> rawSigma)
    {
        var t = _history.Count - 1;
        var s = _history.DiffScale;
        AppendFeatures(t, value, s, timeMs);
        mu.Fill(double.NaN);
        rawSigma.Fill(double.NaN);
        if (_stepper is null) return;
        _stepper.Step(_slab, _slot, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_x).Slice(t * _inputs, _inputs), _mu, _logSigma);
        for (var k = 0; k < Horizons; k++)
        {
            mu[k] = value + (s * _mu[k]);
            rawSigma[k] = s * Math.Exp(Math.Clamp(_logSigma[k], -20f, 20f));
        }

        if (FirstForecastRow < 0) FirstForecastRow = t;
    }

    /// <inheritdoc/>
    protected override void Learn()
    {
        var t = _history.Count - 1;
        var complete = t - Horizons + 1;
        if (complete < _s.MinRows || ((t + 1) % _s.RetrainEvery != 0 && _stepper is not null)) return;
        FineTune(t - Horizons);
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

        if (_calendar == CalendarFeatures.None) return;
        var ms = timeMs ?? 0;
        if (_calendar.HasFlag(CalendarFeatures.TimeOfDay))
        {
            var day = (double)((ms % 86_400_000 + 86_400_000) % 86_400_000) / 86_400_000;
            _x.Add((float)Math.Sin(2 * Math.PI * day));
            _x.Add((float)Math.Cos(2 * Math.PI * day));
        }

        if (_calendar.HasFlag(CalendarFeatures.DayOfWeek))
        {
            var week = (double)((ms % 604_800_000 + 604_800_000) % 604_800_000) / 604_800_000;
            _x.Add((float)Math.Sin(2 * Math.PI * week));
            _x.Add((float)Math.Cos(2 * Math.PI * week));
        }
    }

    // Fine-tunes a copy of the serving model on rows [end − window + 1, end] (all K targets known), with Adam resumed;
    // promotes it when it beats the serving model on the holdout, then re-warms the state.
    private void FineTune(int end)
    {
        var start = Math.Max(0, end - _s.ReplayWindow + 1);
        var len = end - start + 1;
        var holdout = Math.Min(_s.Holdout, len / 4);
        var trainEnd = end - holdout;
        var train = Dataset(start, trainEnd);
        var validation = Dataset(Math.Max(start, trainEnd + 1 - _s.HoldoutContext), end);
        var candidate = Clone(_model);
        using var trainer = TrainerFactory.Create(candidate, Options(_stepper is null ? _s.FirstEpochs : _s.Epochs));
        if (_adam is not null) trainer.LoadOptimizerState(_adam);
        var champion = _stepper is null ? double.PositiveInfinity : trainer.Evaluate(validation);
        var report = trainer.Fit(train, validation);
        _adam = trainer.SaveOptimizerState();
        Fits++;
        var best = report.Epochs.Min(e => e.ValidationLoss);
        if (!(best < champion - _s.GateMargin)) return;
        Promotions++;
        _model = candidate;
        _stepper?.Dispose();
        _stepper = new LstmStepper(_model, 1);
        Rewarm();
    }

    private TrainingOptions Options(int epochs) => new()
    {
        Device = _s.Device, WindowLength = _s.WindowLength, WarmupSteps = _s.WarmupSteps, BatchSize = _s.BatchSize,
        BatchesPerEpoch = _s.BatchesPerEpoch, Epochs = epochs, LearningRate = _s.LearningRate,
        LrWarmupSteps = 2 * _s.BatchesPerEpoch, LrDecay = LrDecay.Cosine,
        LrDecaySteps = (_s.FirstEpochs + (_expectedFits * _s.Epochs)) * _s.BatchesPerEpoch,
        MinLearningRate = _s.LearningRate / 10, ClipNorm = 1.0, Dropout = _s.Layers > 1 ? _s.Dropout : 0,
        Patience = _s.Patience, Seed = _s.Seed + Fits, Threads = 1,
    };

    private SeriesDataset Dataset(int from, int to)
    {
        var n = to - from + 1;
        var x = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_x).Slice(from * _inputs, n * _inputs).ToArray();
        var y = new float[n * Horizons];
        for (var r = 0; r < n; r++)
        {
            var row = from + r;
            for (var k = 1; k <= Horizons; k++)
            {
                y[(r * Horizons) + k - 1] = Clamp((_history[row + k] - _history[row]) / _scale[row], TargetClamp);
            }
        }

        return new SeriesDataset(_inputs, Horizons, [new TimeSeries(x, y)]);
    }

    // The promoted model's state is not the old model's: rebuild it from zero over the last rows (the next Step continues it).
    private void Rewarm()
    {
        var t = _history.Count - 1;
        var steps = Math.Min(_s.RewarmSteps, t + 1);
        var cfg = _model.Config;
        var h = new float[cfg.Layers * cfg.HiddenSize];
        var c = new float[cfg.Layers * cfg.HiddenSize];
        var x = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_x).Slice((t + 1 - steps) * _inputs, steps * _inputs);
        SequenceForward.Run(_model, x, 1, steps, h, c, [], new float[steps * Horizons], new float[steps * Horizons]);
        for (var l = 0; l < cfg.Layers; l++)
        {
            h.AsSpan(l * cfg.HiddenSize, cfg.HiddenSize).CopyTo(_slab.H(_slot[0], l));
            c.AsSpan(l * cfg.HiddenSize, cfg.HiddenSize).CopyTo(_slab.C(_slot[0], l));
        }
    }

    private static LstmModel Clone(LstmModel m)
    {
        var copy = new LstmModel(m.Config, m.Metadata);
        var from = m.Parameters();
        var to = copy.Parameters();
        for (var i = 0; i < from.Count; i++) from[i].Values.CopyTo(to[i].Values, 0);
        return copy;
    }

    private static float Clamp(double v, float limit = FeatureClamp) => double.IsFinite(v) ? (float)Math.Clamp(v, -limit, limit) : 0f;

    /// <inheritdoc/>
    public void Dispose()
    {
        _stepper?.Dispose();
    }
}
