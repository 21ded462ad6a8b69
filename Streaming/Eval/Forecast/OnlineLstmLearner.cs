using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Model.Training;

namespace StreamLstm.Streaming.Eval.Forecast;

/// <summary>
/// The model shared by every key's <see cref="OnlineLstmForecaster"/>: serving weights and stepper, one state slot per
/// key, and the fine-tuning loop. Every <see cref="OnlineLstmSettings.RetrainEvery"/> rows (over all keys) a copy of
/// the serving weights is fine-tuned through <see cref="ILstmTrainer.Fit"/> (Adam resumed across fine-tunes, warm-up +
/// cosine learning-rate schedule, dropout between layers, early stopping on each key's most recent rows held out) on the
/// replay window of recent rows, and promoted only when it beats the serving model's holdout NLL by the gate margin;
/// every key's state is then re-warmed by running the promoted model over that key's last rows.
/// </summary>
public sealed class OnlineLstmLearner : IDisposable
{
    private const int MinShortWindow = 8;

    private readonly OnlineLstmSettings _s;
    private readonly int _expectedFits;
    private readonly List<OnlineLstmForecaster> _keys = [];
    private readonly StateSlab _slab;
    private LstmModel _model;
    private AdamState? _adam;
    private LstmStepper? _stepper;
    private long _rows;

    /// <summary>Creates the learner with random weights.</summary>
    /// <param name="horizons">K.</param>
    /// <param name="settings">Settings.</param>
    /// <param name="calendar">Calendar inputs (need dates).</param>
    /// <param name="expectedRows">Rows the run is expected to have (sets the length of the learning-rate decay).</param>
    public OnlineLstmLearner(int horizons, OnlineLstmSettings settings, CalendarFeatures calendar, int expectedRows)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        _s = settings;
        Horizons = horizons;
        Calendar = calendar;
        InputSize = 2 + horizons + (calendar.HasFlag(CalendarFeatures.TimeOfDay) ? 2 : 0) + (calendar.HasFlag(CalendarFeatures.DayOfWeek) ? 2 : 0);
        _model = LstmModel.CreateRandom(new LstmConfig(InputSize, settings.Hidden, settings.Layers, horizons), settings.Seed);
        _expectedFits = Math.Max(1, expectedRows / settings.RetrainEvery);
        Device = TrainerFactory.Resolve(settings.Device).ToString().ToLowerInvariant();
        _slab = new StateSlab(_model.Config, 4);
    }

    /// <summary>K.</summary>
    public int Horizons { get; }

    /// <summary>Calendar inputs.</summary>
    public CalendarFeatures Calendar { get; }

    /// <summary>Inputs per row.</summary>
    public int InputSize { get; }

    /// <summary>Where the trainer runs (<c>cpu</c> or <c>gpu</c>).</summary>
    public string Device { get; }

    /// <summary>Fine-tunes run.</summary>
    public int Fits { get; private set; }

    /// <summary>Fine-tunes that trained on windows shorter than configured because no key had rows enough.</summary>
    public int ShortWindowFits { get; private set; }

    /// <summary>Candidates promoted.</summary>
    public int Promotions { get; private set; }

    /// <summary>Optimizer steps taken.</summary>
    public int OptimizerSteps => _adam?.Step ?? 0;

    /// <summary>Global row (over all keys) of the first forecast (-1 before it).</summary>
    public long FirstForecastRow { get; private set; } = -1;

    /// <summary>Whether a model has been fitted (forecasts exist).</summary>
    public bool Ready => _stepper is not null;

    /// <summary>A forecaster for a new key, with its own history and state slot.</summary>
    /// <param name="history">The key's history (the caller appends each row before stepping).</param>
    /// <returns>The forecaster.</returns>
    public OnlineLstmForecaster NewKey(SeriesHistory history)
    {
        if (_slab.Count == _slab.Capacity) _slab.EnsureCapacity(_slab.Capacity * 2);
        var f = new OnlineLstmForecaster(this, history, _slab.Allocate());
        _keys.Add(f);
        return f;
    }

    internal bool Step(int slot, ReadOnlySpan<float> x, Span<float> mu, Span<float> logSigma)
    {
        if (_stepper is null) return false;
        _stepper.Step(_slab, [slot], x, mu, logSigma);
        if (FirstForecastRow < 0) FirstForecastRow = _rows;
        return true;
    }

    // After every row of any key: fine-tune when due (every row until the first model exists).
    internal void RowDone()
    {
        _rows++;
        if (_rows % _s.RetrainEvery != 0 && _stepper is not null) return;
        var complete = _keys.Sum(k => Math.Max(0, k.Rows - Horizons));
        if (complete < _s.MinRows) return;
        FineTune();
    }

    // Fine-tunes a copy of the serving model on each key's recent rows (all K targets known), with Adam resumed;
    // promotes it when it beats the serving model on the keys' held-out latest rows, then re-warms every key's state.
    private void FineTune()
    {
        var train = new List<TimeSeries>();
        var validation = new List<TimeSeries>();
        var budget = _s.ReplayWindow;
        // Most recently active keys first, until the replay window's rows are spent.
        foreach (var key in _keys.OrderByDescending(k => k.LastGlobalRow))
        {
            var end = key.Rows - 1 - Horizons;
            if (end < 1 || budget <= 0) continue;
            var start = Math.Max(0, end - Math.Min(budget, _s.ReplayWindow) + 1);
            budget -= end - start + 1;
            var holdout = Math.Min(_s.Holdout, (end - start + 1) / 4);
            if (holdout < 1) continue;
            var trainEnd = end - holdout;
            train.Add(key.Series(start, trainEnd));
            validation.Add(key.Series(Math.Max(start, trainEnd + 1 - _s.HoldoutContext), end));
        }

        var trainSet = new SeriesDataset(InputSize, Horizons, train);
        var (warmup, length) = (_s.WarmupSteps, _s.WindowLength);
        if (trainSet.Windows(warmup + length, 1).Count == 0)
        {
            // Sparse series split by key (a vital sign charted a few dozen times per stay) may never grow a key as long as
            // the configured window: train on windows as long as the longest key's rows instead (a third of them warm-up),
            // rather than never fitting and never forecasting.
            var longest = Enumerable.Range(0, train.Count).Select(trainSet.Length).DefaultIfEmpty(0).Max();
            if (longest < MinShortWindow) return;
            warmup = longest / 3;
            length = longest - warmup;
            ShortWindowFits++;
        }

        var validationSet = new SeriesDataset(InputSize, Horizons, validation);
        var candidate = Clone(_model);
        using var trainer = TrainerFactory.Create(candidate, Options(_stepper is null ? _s.FirstEpochs : _s.Epochs, warmup, length));
        if (_adam is not null) trainer.LoadOptimizerState(_adam);
        var champion = _stepper is null ? double.PositiveInfinity : trainer.Evaluate(validationSet);
        var report = trainer.Fit(trainSet, validationSet);
        _adam = trainer.SaveOptimizerState();
        Fits++;
        var best = report.Epochs.Min(e => e.ValidationLoss);
        if (!(best < champion - _s.GateMargin)) return;
        Promotions++;
        _model = candidate;
        _stepper?.Dispose();
        _stepper = new LstmStepper(_model, 1);
        foreach (var key in _keys) Rewarm(key);
    }

    private TrainingOptions Options(int epochs, int warmup, int length) => new()
    {
        Device = _s.Device, WindowLength = length, WarmupSteps = warmup, BatchSize = _s.BatchSize,
        BatchesPerEpoch = _s.BatchesPerEpoch, Epochs = epochs, LearningRate = _s.LearningRate,
        LrWarmupSteps = 2 * _s.BatchesPerEpoch, LrDecay = LrDecay.Cosine,
        LrDecaySteps = (_s.FirstEpochs + (_expectedFits * _s.Epochs)) * _s.BatchesPerEpoch,
        MinLearningRate = _s.LearningRate / 10, ClipNorm = 1.0, Dropout = _s.Layers > 1 ? _s.Dropout : 0,
        Patience = _s.Patience, Seed = _s.Seed + Fits, Threads = 1,
    };

    // The promoted model's state is not the old model's: rebuild it from zero over the key's last rows (its next step continues it).
    private void Rewarm(OnlineLstmForecaster key)
    {
        var steps = Math.Min(_s.RewarmSteps, key.Rows);
        var cfg = _model.Config;
        var h = new float[cfg.Layers * cfg.HiddenSize];
        var c = new float[cfg.Layers * cfg.HiddenSize];
        if (steps > 0)
        {
            SequenceForward.Run(_model, key.Inputs(key.Rows - steps, steps), 1, steps, h, c, [], new float[steps * Horizons], new float[steps * Horizons]);
        }

        for (var l = 0; l < cfg.Layers; l++)
        {
            h.AsSpan(l * cfg.HiddenSize, cfg.HiddenSize).CopyTo(_slab.H(key.Slot, l));
            c.AsSpan(l * cfg.HiddenSize, cfg.HiddenSize).CopyTo(_slab.C(key.Slot, l));
        }
    }

    internal long GlobalRow => _rows;

    private static LstmModel Clone(LstmModel m)
    {
        var copy = new LstmModel(m.Config, m.Metadata);
        var from = m.Parameters();
        var to = copy.Parameters();
        for (var i = 0; i < from.Count; i++) from[i].Values.CopyTo(to[i].Values, 0);
        return copy;
    }

    /// <inheritdoc/>
    public void Dispose() => _stepper?.Dispose();
}
