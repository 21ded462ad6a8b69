using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Generators;

/// <summary>Settings of <see cref="VitalsGenerator"/>. Default rate: one reading per patient per second.</summary>
public sealed class VitalsGeneratorOptions : GeneratorOptions
{
    /// <summary>Creates the options with the vitals default rate (1 event/s per patient).</summary>
    public VitalsGeneratorOptions() => EventsPerKeyPerSecond = 1;

    /// <summary>Tachycardia episodes per patient per hour (before <see cref="GeneratorOptions.AnomalyRateScale"/>).</summary>
    public double TachycardiaPerHour { get; set; } = 0.3;

    /// <summary>Desaturation episodes per patient per hour (before <see cref="GeneratorOptions.AnomalyRateScale"/>).</summary>
    public double DesaturationPerHour { get; set; } = 0.3;

    /// <summary>Multiplies every missingness probability (0 = every vital always present, 1 = realistic).</summary>
    public double MissingnessScale { get; set; } = 1.0;

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Check(TachycardiaPerHour >= 0 && DesaturationPerHour >= 0, "TachycardiaPerHour and DesaturationPerHour must be >= 0.");
        Check(MissingnessScale is >= 0 and <= 10, $"MissingnessScale must be in [0, 10] (got {MissingnessScale}).");
    }
}

/// <summary>One generated vitals reading: the values (NaN = missing) and the event time.</summary>
public struct VitalsEvent
{
    /// <summary>Values; NaN marks a missing vital.</summary>
    public VitalValues Values;

    /// <summary>Event time, epoch ms.</summary>
    public long TimestampMs;
}

/// <summary>
/// ICU-style vital signs per patient: individual baselines; a 24 h circadian rhythm (HR, BP, temperature peak in the
/// late afternoon); breathing at the patient's respiratory rate modulating HR (respiratory sinus arrhythmia) and SBP;
/// slow AR(1) drift and measurement noise. Episodes: tachycardia (HR +35..60 bpm, 3-10 min) and desaturation (SpO2 down
/// to 80..88 %, 2-6 min, with compensatory HR and RR rise), ramped in and out; every event inside an episode is
/// labelled. Missingness as on a ward monitor: occasional HR/SpO2/RR gaps, SpO2 probe-off stretches, cuff blood pressure
/// in about one reading in four (MAP only when both pressures are present), temperature rarely.
/// </summary>
public sealed class VitalsGenerator : EventGenerator<VitalsEvent>
{
    private const double Ramp = 30; // seconds to ramp an episode in and out
    private readonly double _gap;
    private readonly double _tachyRate;
    private readonly double _desatRate;
    private readonly double _miss;
    private readonly double[] _hr0, _spo20, _rr0, _sbp0, _dbp0, _temp0, _phase;
    private readonly double[] _driftHr, _driftSpo2, _driftRr, _driftBp;
    private readonly double[] _breath;
    private readonly double[] _episodeStart, _episodeEnd, _episodeDepth;
    private readonly AnomalyKind[] _episode;
    private readonly double[] _probeOffUntil;

    /// <summary>Creates the generator (validates <paramref name="options"/>).</summary>
    /// <param name="options">Settings.</param>
    public VitalsGenerator(VitalsGeneratorOptions options)
        : base(options, SourceKind.Vitals, "p-")
    {
        _gap = 1.0 / options.EventsPerKeyPerSecond;
        _tachyRate = options.TachycardiaPerHour * options.AnomalyRateScale / 3600.0;
        _desatRate = options.DesaturationPerHour * options.AnomalyRateScale / 3600.0;
        _miss = options.MissingnessScale;
        var n = KeyCount;
        _hr0 = new double[n]; _spo20 = new double[n]; _rr0 = new double[n]; _sbp0 = new double[n]; _dbp0 = new double[n];
        _temp0 = new double[n]; _phase = new double[n];
        _driftHr = new double[n]; _driftSpo2 = new double[n]; _driftRr = new double[n]; _driftBp = new double[n];
        _breath = new double[n];
        _episodeStart = new double[n]; _episodeEnd = new double[n]; _episodeDepth = new double[n];
        _episode = new AnomalyKind[n];
        _probeOffUntil = new double[n];
        var rng = new GeneratorRandom(options.Seed ^ 0x766974616CUL);
        for (var k = 0; k < n; k++)
        {
            _hr0[k] = Math.Clamp(75 + (9 * rng.NextGaussian()), 55, 100);
            _spo20[k] = rng.Uniform(95, 99);
            _rr0[k] = Math.Clamp(15 + (2.5 * rng.NextGaussian()), 10, 22);
            _sbp0[k] = Math.Clamp(122 + (12 * rng.NextGaussian()), 95, 160);
            _dbp0[k] = Math.Clamp(76 + (8 * rng.NextGaussian()), 55, 95);
            _temp0[k] = Math.Clamp(36.9 + (0.25 * rng.NextGaussian()), 36.2, 37.6);
            _phase[k] = rng.Uniform(-1, 1); // hours of personal circadian shift
            _breath[k] = rng.Uniform(0, 2 * Math.PI);
            _episodeEnd[k] = double.NegativeInfinity;
            _probeOffUntil[k] = double.NegativeInfinity;
        }

        InitialiseSchedule();
    }

    /// <inheritdoc />
    protected override double FirstOffsetSeconds(int key, ref GeneratorRandom rng) => rng.Uniform(0, _gap);

    /// <inheritdoc />
    protected override double NextGapSeconds(int key, ref GeneratorRandom rng) => _gap * rng.Uniform(0.9, 1.1);

    /// <inheritdoc />
    protected override AnomalyKind Generate(int key, long ts, double t, double dt, ref GeneratorRandom rng, out VitalsEvent e)
    {
        // Episode state machine: at most one episode at a time; starts are Poisson in virtual time.
        if (t >= _episodeEnd[key])
        {
            _episode[key] = AnomalyKind.None;
            var u = rng.NextDouble();
            if (u < _tachyRate * dt)
            {
                StartEpisode(key, AnomalyKind.Tachycardia, t, rng.Uniform(180, 600), rng.Uniform(35, 60));
            }
            else if (u < (_tachyRate + _desatRate) * dt)
            {
                StartEpisode(key, AnomalyKind.Desaturation, t, rng.Uniform(120, 360), rng.Uniform(80, 88));
            }
        }

        // Envelope in [0, 1]: linear ramps at both ends of the episode.
        var env = 0.0;
        if (_episode[key] != AnomalyKind.None)
        {
            env = Math.Clamp(Math.Min(t - _episodeStart[key], _episodeEnd[key] - t) / Ramp, 0, 1);
            env = Math.Max(env, 0.25); // the first labelled reading already shows the change
        }

        // Slow drift: AR(1) with a 10-minute time constant, stationary std given per vital.
        var a = Math.Exp(-dt / 600.0);
        var b = Math.Sqrt(1 - (a * a));
        _driftHr[key] = (a * _driftHr[key]) + (b * 4.0 * rng.NextGaussian());
        _driftSpo2[key] = (a * _driftSpo2[key]) + (b * 0.7 * rng.NextGaussian());
        _driftRr[key] = (a * _driftRr[key]) + (b * 1.5 * rng.NextGaussian());
        _driftBp[key] = (a * _driftBp[key]) + (b * 5.0 * rng.NextGaussian());

        var clockHours = ((ts / 3_600_000.0) % 24) + _phase[key];
        var circ = Math.Sin(2 * Math.PI * (clockHours - 10) / 24); // peaks around 16:00
        var rr = _rr0[key] + _driftRr[key];
        var hr = _hr0[key] + (6 * circ) + _driftHr[key];
        var spo2 = _spo20[key] + _driftSpo2[key];
        var tachy = _episode[key] == AnomalyKind.Tachycardia;
        var desat = _episode[key] == AnomalyKind.Desaturation;
        if (tachy)
        {
            hr += env * _episodeDepth[key];
            rr += env * 3;
        }
        else if (desat)
        {
            spo2 += env * (_episodeDepth[key] - spo2);
            hr += env * 12;
            rr += env * 6;
        }

        rr = Math.Clamp(rr, 6, 45);
        _breath[key] = (_breath[key] + (2 * Math.PI * rr / 60.0 * dt)) % (2 * Math.PI);
        var breath = Math.Sin(_breath[key]);
        hr += 2.5 * breath;

        VitalValues v;
        v.Hr = Math.Round(Math.Clamp(hr + (0.8 * rng.NextGaussian()), 25, 230), 1);
        v.Spo2 = Math.Round(Math.Clamp(spo2 + (0.4 * rng.NextGaussian()), 60, 100), 1);
        v.RespRate = Math.Round(Math.Clamp(rr + (0.6 * rng.NextGaussian()), 4, 60), 1);
        var sbp = _sbp0[key] + (6 * circ) + _driftBp[key] + (2 * breath) + (tachy ? -6 * env : 0);
        var dbp = _dbp0[key] + (4 * circ) + (0.6 * _driftBp[key]);
        v.Sbp = Math.Round(Math.Clamp(sbp + (2 * rng.NextGaussian()), 60, 230));
        v.Dbp = Math.Round(Math.Clamp(dbp + (1.5 * rng.NextGaussian()), 30, v.Sbp - 10));
        v.Map = Math.Round(v.Dbp + ((v.Sbp - v.Dbp) / 3), 1);
        v.Temp = Math.Round(_temp0[key] + (0.35 * circ) + (0.05 * rng.NextGaussian()), 2);

        // Missingness, scaled by MissingnessScale.
        if (_miss > 0)
        {
            if (t >= _probeOffUntil[key] && rng.Chance(_miss * dt / 3600.0))
            {
                _probeOffUntil[key] = t + rng.Uniform(10, 90); // SpO2 probe off for a while
            }

            if (t < _probeOffUntil[key] || rng.Chance(0.03 * _miss))
            {
                v.Spo2 = double.NaN;
            }

            if (rng.Chance(0.02 * _miss))
            {
                v.Hr = double.NaN;
            }

            if (rng.Chance(0.05 * _miss))
            {
                v.RespRate = double.NaN;
            }

            if (rng.Chance(Math.Min(1, 0.75 * _miss)))
            {
                v.Sbp = double.NaN;
                v.Dbp = double.NaN;
                v.Map = double.NaN;
            }

            if (rng.Chance(Math.Min(1, 0.95 * _miss)))
            {
                v.Temp = double.NaN;
            }

            if (v.PresentCount == 0)
            {
                v.Hr = Math.Round(Math.Clamp(hr, 25, 230), 1); // a reading always carries at least one vital
            }
        }

        e.Values = v;
        e.TimestampMs = ts;
        return _episode[key];
    }

    /// <inheritdoc />
    protected override int Write(Span<byte> destination, in VitalsEvent e, ReadOnlySpan<byte> keyEncoded, ReadOnlySpan<byte> label) =>
        EventJson.WriteVitals(destination, keyEncoded, e.TimestampMs, e.Values, label, decimals: 2, isoTimestamp: IsoTimestamps);

    private void StartEpisode(int key, AnomalyKind kind, double t, double seconds, double depth)
    {
        _episode[key] = kind;
        _episodeStart[key] = t;
        _episodeEnd[key] = t + seconds;
        _episodeDepth[key] = depth;
    }
}
