using StreamLstm.Model.Forecasting;
using StreamLstm.Model.Inference;
using StreamLstm.Model.Lstm;
using StreamLstm.Model.State;
using StreamLstm.Model.Training;
using StreamLstm.Sink.Alerts;
using StreamLstm.Sink.Anomaly;
using StreamLstm.Streaming.Eval.Forecast;

namespace StreamLstm.Streaming.Eval;

/// <summary>Settings of the LSTM detector used by the NAB evaluation.</summary>
public sealed class NabLstmSettings
{
    /// <summary>Hidden size H.</summary>
    public int Hidden { get; set; } = 24;

    /// <summary>Training epochs.</summary>
    public int Epochs { get; set; } = 8;

    /// <summary>Seed for initialisation and window sampling.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Events averaged into the detector's smoothed score.</summary>
    public int ScoreWindow { get; set; } = 5;

    /// <summary>Online (single pass, learned while scoring) or probation (trained on the probation rows, then frozen).</summary>
    public NabMode Mode { get; set; } = NabMode.Online;

    /// <summary>Settings of the online learner (<see cref="NabMode.Online"/>); its Hidden and Seed are taken from here.</summary>
    public OnlineLstmSettings Online { get; set; } = new();

    /// <summary>Raw scores fused by the online detector (<see cref="NabMode.Online"/>).</summary>
    public NabComponents Components { get; set; } = NabComponents.All;

    /// <summary>Online detector: rows after a detection in which further detections are suppressed (0: off); see <see cref="RefractoryFilter"/>.</summary>
    public int Refractory { get; set; } = NabDetectors.DefaultRefractory;
}

/// <summary>The raw scores the online NAB detector fuses, each through its own <see cref="AnomalyLikelihood"/> (spatial as is).</summary>
[Flags]
public enum NabComponents
{
    /// <summary>None (every row unscored).</summary>
    None = 0,

    /// <summary>Surprise of the value under the online LSTM's forecast made at the row before.</summary>
    Lstm = 1,

    /// <summary>Surprise of the value under the trailing window's mean and spread (<see cref="TrailingGaussianSurprise"/>).</summary>
    Value = 2,

    /// <summary>A value outside the range seen so far (<see cref="SpatialNovelty"/>).</summary>
    Spatial = 4,

    /// <summary>Bin patterns of the recent values never seen before (<see cref="ContextualNovelty"/>), through its own likelihood.</summary>
    Context = 8,

    /// <summary>The four of the default detector (not <see cref="Art"/>).</summary>
    All = Lstm | Value | Spatial | Context,

    /// <summary>Window shapes fuzzy ART has no close category for (<see cref="FuzzyArtNovelty"/>), through its own likelihood; optional, not in <see cref="All"/>.</summary>
    Art = 16,
}

/// <summary>How our detector learns each NAB series.</summary>
public enum NabMode
{
    /// <summary>One pass: forecast each row, score it, learn online (periodic fine-tuning on a replay window); scores become a rolling likelihood.</summary>
    Online,

    /// <summary>Train on the probation rows only, then stream every row through the frozen model and the Sink's anomaly detector.</summary>
    Probation,
}

/// <summary>The two detectors the NAB evaluation compares: ours (LSTM + Sink anomaly scoring) and NAB's windowed Gaussian.</summary>
public static class NabDetectors
{
    private const int Inputs = 2;
    private const float FeatureClamp = 20f;

    /// <summary>Cap of the online detector's raw surprise (p = 1e-20).</summary>
    public const double MaxSurprise = 20;

    /// <summary>Default refractory period of the online detector, in rows.</summary>
    public const int DefaultRefractory = 200;

    /// <summary>Raw LSTM surprises averaged by its likelihood's short mean: twice NAB's 10, as the online LSTM's surprise is
    /// noisy from seed to seed and a longer mean steadies it.</summary>
    public const int LstmShortWindow = 20;

    /// <summary>Raw ART novelties averaged by its likelihood's short mean: the novelty is sparse (a window unlike every
    /// category is brief), and NAB's 10 dilutes it.</summary>
    public const int ArtShortWindow = 3;

    /// <summary>Trailing window of the value component (NAB's windowed Gaussian uses the same).</summary>
    public const int ValueWindow = 6400;

    /// <summary>Score that counts as a detection for the refractory filter: a likelihood tail of 1e-5 (HTM's "red" level).</summary>
    public static double AlertLevel { get; } = AnomalyLikelihood.ScoreOfSurprise(5);

    /// <summary>Cap of a repeated detection within the refractory period: a tail of 1e-3 (HTM's "yellow" level).</summary>
    public static double DemotedLevel { get; } = AnomalyLikelihood.ScoreOfSurprise(3);

    /// <summary>
    /// Our detector: an LSTM trained on the probation rows only (features: normalised value and its change; target: the
    /// next normalised value), then every row streamed through <see cref="LstmStepper"/> one step per event with its state in a
    /// <see cref="StateSlab"/>, each forecast handed to the Sink's <see cref="AnomalyDetector"/> in a one-row
    /// <see cref="ForecastBatch"/>. The row score is the detector's smoothed surprise (NaN where it has none).
    /// </summary>
    /// <param name="file">Data.</param>
    /// <param name="settings">Settings.</param>
    /// <returns>Per-row scores.</returns>
    public static double[] Lstm(NabFile file, NabLstmSettings settings)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(settings);
        var v = file.Values;
        var n = v.Length;
        var probation = file.Series.Probation;
        double mean = 0, sq = 0;
        for (var i = 0; i < probation; i++) mean += v[i];
        mean /= probation;
        for (var i = 0; i < probation; i++) sq += (v[i] - mean) * (v[i] - mean);
        var std = Math.Sqrt(sq / Math.Max(1, probation - 1));
        if (!(std > 1e-9)) std = 1.0;

        var x = new float[n * Inputs];
        for (var i = 0; i < n; i++)
        {
            var z = Math.Clamp((float)((v[i] - mean) / std), -FeatureClamp, FeatureClamp);
            x[i * Inputs] = z;
            x[(i * Inputs) + 1] = i == 0 ? 0f : Math.Clamp(z - x[(i - 1) * Inputs], -FeatureClamp, FeatureClamp);
        }

        var model = Train(x, probation, settings);
        // Calibrate sigma on the probation rows (as the Sink's SigmaScale is meant to be set), then score every row.
        _ = Stream(file, model, x, mean, std, 1.0, settings.ScoreWindow, probation, out var zRms);
        var scale = zRms > 0 && double.IsFinite(zRms) ? zRms : 1.0;
        return Stream(file, model, x, mean, std, scale, settings.ScoreWindow, n, out _);
    }

    /// <summary>
    /// Our detector learned online, in one pass: the online LSTM (<see cref="OnlineLstmLearner"/>, horizon 1, calendar
    /// inputs) forecasts each row from the rows before it and fine-tunes as it goes, with no separate training on the
    /// probation rows. Raw scores, fused by taking the largest (<see cref="NabLstmSettings.Components"/>):
    /// <list type="bullet">
    /// <item>LSTM: the surprise <c>−log10 p</c> (capped at <see cref="MaxSurprise"/>), p the two-sided Gaussian tail of row t's
    /// value under the forecast made at row t−1 (calibrated σ), through its own <see cref="AnomalyLikelihood"/>;</item>
    /// <item>value: the surprise of the value under the trailing <see cref="ValueWindow"/> rows' mean and spread
    /// (<see cref="TrailingGaussianSurprise"/>), through its own likelihood;</item>
    /// <item>spatial: 1 for a value outside the range seen so far (<see cref="SpatialNovelty"/>, as HTM's detector flags it);</item>
    /// <item>context: the fraction of the recent bin patterns never seen before (<see cref="ContextualNovelty"/>), through its own likelihood;</item>
    /// <item>art (optional, not in <see cref="NabComponents.All"/>): 1 − the best fuzzy ART match of the last 8 values' window
    /// (<see cref="FuzzyArtNovelty"/>), through its own likelihood over <see cref="ArtShortWindow"/> rows.</item>
    /// </list>
    /// The fused score then passes a <see cref="RefractoryFilter"/> (<see cref="NabLstmSettings.Refractory"/> rows at
    /// <see cref="AlertLevel"/>), so one event is detected once.
    /// </summary>
    /// <param name="file">Data.</param>
    /// <param name="settings">Settings.</param>
    /// <returns>Per-row scores in [0, 1] (NaN while learning).</returns>
    public static double[] Online(NabFile file, NabLstmSettings settings)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(settings);
        var o = settings.Online;
        o.Hidden = settings.Hidden;
        o.Seed = settings.Seed;
        var n = file.Values.Length;
        var useLstm = settings.Components.HasFlag(NabComponents.Lstm);
        var useValue = settings.Components.HasFlag(NabComponents.Value);
        var useSpatial = settings.Components.HasFlag(NabComponents.Spatial);
        var useContext = settings.Components.HasFlag(NabComponents.Context);
        using var learner = useLstm ? new OnlineLstmLearner(1, o, CalendarFeatures.TimeOfDay | CalendarFeatures.DayOfWeek, n) : null;
        var history = new SeriesHistory();
        var model = learner?.NewKey(history);
        var lstmLikelihood = new AnomalyLikelihood(LstmShortWindow);
        var valueLikelihood = new AnomalyLikelihood();
        var value = new TrailingGaussianSurprise(ValueWindow, MaxSurprise);
        var spatial = new SpatialNovelty();
        var context = new ContextualNovelty();
        var contextLikelihood = new AnomalyLikelihood();
        var art = settings.Components.HasFlag(NabComponents.Art) ? new FuzzyArtNovelty() : null;
        var artLikelihood = new AnomalyLikelihood(ArtShortWindow);
        var refractory = new RefractoryFilter(settings.Refractory, AlertLevel, DemotedLevel);
        var scores = new double[n];
        Span<double> mu = stackalloc double[1];
        Span<double> sigma = stackalloc double[1];
        double prevMu = double.NaN, prevSigma = double.NaN;
        for (var t = 0; t < n; t++)
        {
            var y = file.Values[t];
            var score = double.NaN;
            if (model is not null)
            {
                var raw = prevSigma > 0 ? Math.Min(GaussianTail.Surprise(GaussianTail.LogTwoSidedP((y - prevMu) / prevSigma)), MaxSurprise) : double.NaN;
                score = lstmLikelihood.Next(raw);
                history.Append(y);
                model.Step(y, file.TimestampsMs[t], mu, sigma);
                prevMu = mu[0];
                prevSigma = sigma[0];
            }

            if (useValue) score = MaxOf(score, valueLikelihood.Next(value.Next(y)));
            if (useSpatial) score = MaxOf(score, spatial.Next(y));
            if (useContext) score = MaxOf(score, contextLikelihood.Next(context.Next(y)));
            if (art is not null) score = MaxOf(score, artLikelihood.Next(art.Next(y)));
            scores[t] = refractory.Next(score);
        }

        return scores;
    }

    /// <summary>The larger of two scores, NaN (no score) counting as absent.</summary>
    /// <param name="a">A score or NaN.</param>
    /// <param name="b">A score or NaN.</param>
    /// <returns>The larger, or NaN when both are.</returns>
    public static double MaxOf(double a, double b) => double.IsNaN(a) ? b : double.IsNaN(b) ? a : Math.Max(a, b);

    /// <summary>NAB's windowed Gaussian: surprise (<c>-log10</c> two-sided tail p) of each value under the mean and standard
    /// deviation of the preceding <paramref name="window"/> values.</summary>
    /// <param name="values">Values.</param>
    /// <param name="window">Trailing window length (NAB uses 6400).</param>
    /// <returns>Per-row scores (NaN for the first two rows).</returns>
    public static double[] WindowedGaussian(ReadOnlySpan<double> values, int window = 6400)
    {
        var scores = new double[values.Length];
        double sum = 0, sumSq = 0;
        for (var i = 0; i < values.Length; i++)
        {
            var count = Math.Min(i, window);
            if (count < 2)
            {
                scores[i] = double.NaN;
            }
            else
            {
                var mean = sum / count;
                var std = Math.Sqrt(Math.Max(0.0, (sumSq / count) - (mean * mean)));
                var z = std > 1e-12 ? (values[i] - mean) / std : (values[i] == mean ? 0.0 : 1e3);
                scores[i] = Math.Min(GaussianTail.Surprise(GaussianTail.LogTwoSidedP(z)), 300.0);
            }

            sum += values[i];
            sumSq += values[i] * values[i];
            if (i >= window)
            {
                sum -= values[i - window];
                sumSq -= values[i - window] * values[i - window];
            }
        }

        return scores;
    }

    private static LstmModel Train(float[] x, int probation, NabLstmSettings settings)
    {
        var steps = probation - 1;
        var inputs = x.AsSpan(0, steps * Inputs).ToArray();
        var targets = new float[steps];
        for (var i = 0; i < steps; i++) targets[i] = x[(i + 1) * Inputs];
        var cfg = new LstmConfig(Inputs, settings.Hidden, 1, 1);
        var model = LstmModel.CreateRandom(cfg, settings.Seed);
        var options = new TrainingOptions
        {
            WindowLength = 32, WarmupSteps = Math.Min(16, Math.Max(0, steps - 33)), BatchSize = 16, BatchesPerEpoch = 20,
            Epochs = settings.Epochs, LearningRate = 1e-2, ClipNorm = 1.0, Seed = settings.Seed, Threads = 1,
        };
        new LstmTrainer(model, options).Fit(new SeriesDataset(Inputs, 1, [new TimeSeries(inputs, targets)]));
        return model;
    }

    // Streams rows [0, rows) one event at a time; returns the detector's per-row score and the RMS z-score of the rows it scored.
    private static double[] Stream(NabFile file, LstmModel model, float[] x, double mean, double std, double sigmaScale, int window, int rows, out double zRms)
    {
        var cal = new SourceCalibration { SigmaScale = sigmaScale };
        var detector = new AnomalyDetector(new AnomalyOptions { Window = window, Default = cal }, TimeProvider.System);
        using var stepper = new LstmStepper(model, 1, 1);
        var slab = new StateSlab(model.Config, 1);
        int[] slot = [slab.Allocate()];
        var batch = new ForecastBatch(SourceKind.Tick, 1, 1) { ModelVersion = "nab-eval" };
        Span<float> mu = stackalloc float[1];
        Span<float> logSigma = stackalloc float[1];
        Span<RowScore> score = stackalloc RowScore[1];
        var alerts = new List<AlertEvent>();
        var scores = new double[file.Values.Length];
        scores.AsSpan().Fill(double.NaN);
        double zSq = 0, prevMu = 0, prevSigma = 0;
        long zN = 0;
        for (var i = 0; i < rows; i++)
        {
            stepper.Step(slab, slot, x.AsSpan(i * Inputs, Inputs), mu, logSigma);
            batch.Count = 1;
            batch.Keys[0] = file.Series.Name;
            batch.TimestampsMs[0] = file.TimestampsMs[i];
            batch.Observed[0] = file.Values[i];
            batch.Mu[0] = (float)((mu[0] * std) + mean);
            batch.Sigma[0] = (float)(Math.Exp(logSigma[0]) * std);
            detector.Process(batch, score, alerts);
            alerts.Clear();
            if (score[0].HasScore) scores[i] = score[0].Score;
            if (i > 0 && prevSigma > 0)
            {
                var z = (file.Values[i] - prevMu) / prevSigma;
                zSq += z * z;
                zN++;
            }

            prevMu = batch.Mu[0];
            prevSigma = batch.Sigma[0];
        }

        zRms = zN == 0 ? 1.0 : Math.Sqrt(zSq / zN);
        return scores;
    }
}
