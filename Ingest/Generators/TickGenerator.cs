using StreamLstm.Model.Forecasting;

namespace StreamLstm.Ingest.Generators;

/// <summary>Settings of <see cref="TickGenerator"/>.</summary>
public sealed class TickGeneratorOptions : GeneratorOptions
{
    /// <summary>Volatility of log price in the calm regime, per √second of virtual time.</summary>
    public double CalmVolatility { get; set; } = 0.001;

    /// <summary>The high-volatility regime multiplies volatility by this.</summary>
    public double VolatileMultiplier { get; set; } = 4.0;

    /// <summary>Mean length of a calm regime, seconds.</summary>
    public double MeanCalmSeconds { get; set; } = 1800;

    /// <summary>Mean length of a high-volatility regime, seconds.</summary>
    public double MeanVolatileSeconds { get; set; } = 120;

    /// <summary>Probability that an event carries a price jump (before <see cref="GeneratorOptions.AnomalyRateScale"/>).</summary>
    public double JumpProbability { get; set; } = 0.0005;

    /// <summary>Smallest and largest absolute log jump (a jump is ±U(min, max)).</summary>
    public double JumpMin { get; set; } = 0.02;

    /// <summary>Largest absolute log jump.</summary>
    public double JumpMax { get; set; } = 0.06;

    /// <summary>Probability that an event carries bid/ask (they are optional in the contract).</summary>
    public double QuoteProbability { get; set; } = 0.7;

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        Check(CalmVolatility is >= 0 and < 1, $"CalmVolatility must be in [0, 1) per sqrt(second) (got {CalmVolatility}).");
        Check(VolatileMultiplier is >= 1 and <= 100, $"VolatileMultiplier must be in [1, 100] (got {VolatileMultiplier}).");
        Check(MeanCalmSeconds > 0 && MeanVolatileSeconds > 0, "MeanCalmSeconds and MeanVolatileSeconds must be > 0.");
        Check(JumpProbability is >= 0 and <= 1, $"JumpProbability must be in [0, 1] (got {JumpProbability}).");
        Check(JumpMin is > 0 and < 1 && JumpMax >= JumpMin && JumpMax < 1, "JumpMin/JumpMax must satisfy 0 < JumpMin <= JumpMax < 1.");
        Check(QuoteProbability is >= 0 and <= 1, $"QuoteProbability must be in [0, 1] (got {QuoteProbability}).");
    }
}

/// <summary>One generated tick. <see cref="Bid"/>/<see cref="Ask"/> are NaN when absent.</summary>
public struct TickEvent
{
    /// <summary>Trade price, rounded to cents (&gt; 0).</summary>
    public double Price;

    /// <summary>Trade size (shares, integer-valued, ≥ 1).</summary>
    public double Size;

    /// <summary>Best bid or NaN.</summary>
    public double Bid;

    /// <summary>Best ask or NaN.</summary>
    public double Ask;

    /// <summary>Event time, epoch ms.</summary>
    public long TimestampMs;

    /// <summary>The log return applied at this event before rounding (for tests and analysis).</summary>
    public double LogReturn;
}

/// <summary>
/// Market ticks: per symbol, geometric Brownian motion of the mid price (zero drift, Itô-corrected), a two-state
/// volatility regime (calm / volatile, exponential durations, label <see cref="AnomalyKind.VolatilityRegime"/>) and
/// rare jumps (label <see cref="AnomalyKind.PriceJump"/>). Poisson arrivals; prices rounded to cents; lognormal sizes.
/// </summary>
public sealed class TickGenerator : EventGenerator<TickEvent>
{
    private readonly TickGeneratorOptions _o;
    private readonly double[] _logPrice;
    private readonly double[] _regimeLeft;
    private readonly bool[] _volatile;
    private readonly double _meanGap;
    private readonly double _jumpP;

    /// <summary>Creates the generator (validates <paramref name="options"/>).</summary>
    /// <param name="options">Settings.</param>
    public TickGenerator(TickGeneratorOptions options)
        : base(options, SourceKind.Tick, "SYM")
    {
        _o = options;
        _meanGap = 1.0 / options.EventsPerKeyPerSecond;
        _jumpP = Math.Min(1, options.JumpProbability * options.AnomalyRateScale);
        _logPrice = new double[KeyCount];
        _regimeLeft = new double[KeyCount];
        _volatile = new bool[KeyCount];
        var rng = new GeneratorRandom(options.Seed ^ 0x7469636BUL);
        for (var k = 0; k < KeyCount; k++)
        {
            // Log-uniform start prices in [10, 500].
            _logPrice[k] = rng.Uniform(Math.Log(10), Math.Log(500));
            _regimeLeft[k] = rng.Exponential(options.MeanCalmSeconds) / Math.Max(options.AnomalyRateScale, 1e-12);
        }

        InitialiseSchedule();
    }

    /// <summary>True while the symbol is in its volatile regime (before its next event).</summary>
    /// <param name="key">Key index.</param>
    /// <returns>The regime flag.</returns>
    public bool IsVolatile(int key) => _volatile[key];

    /// <inheritdoc />
    protected override double FirstOffsetSeconds(int key, ref GeneratorRandom rng) => rng.Exponential(_meanGap);

    /// <inheritdoc />
    protected override double NextGapSeconds(int key, ref GeneratorRandom rng) => rng.Exponential(_meanGap);

    /// <inheritdoc />
    protected override AnomalyKind Generate(int key, long ts, double t, double dt, ref GeneratorRandom rng, out TickEvent e)
    {
        // Regime switch: alternating exponential durations; a zero anomaly scale keeps every symbol calm for ever.
        _regimeLeft[key] -= dt;
        if (_regimeLeft[key] <= 0)
        {
            _volatile[key] = !_volatile[key];
            _regimeLeft[key] = _volatile[key]
                ? rng.Exponential(_o.MeanVolatileSeconds)
                : rng.Exponential(_o.MeanCalmSeconds) / Math.Max(_o.AnomalyRateScale, 1e-12);
        }

        var sigma = _o.CalmVolatility * (_volatile[key] ? _o.VolatileMultiplier : 1.0);
        var variance = sigma * sigma * dt;
        var r = (-0.5 * variance) + (Math.Sqrt(variance) * rng.NextGaussian());
        var label = _volatile[key] ? AnomalyKind.VolatilityRegime : AnomalyKind.None;
        if (rng.Chance(_jumpP))
        {
            var size = rng.Uniform(_o.JumpMin, _o.JumpMax);
            r += rng.Chance(0.5) ? size : -size;
            label = AnomalyKind.PriceJump;
        }

        // Keep prices in a sane band so cent rounding never hits zero.
        _logPrice[key] = Math.Clamp(_logPrice[key] + r, Math.Log(1.0), Math.Log(100_000.0));
        var mid = Math.Exp(_logPrice[key]);
        e.Price = Math.Max(0.01, Math.Round(mid * 100) / 100);
        e.Size = Math.Max(1, Math.Round(Math.Exp(4.6 + rng.NextGaussian())));
        if (rng.Chance(_o.QuoteProbability))
        {
            var half = Math.Max(0.005, mid * 0.0001 * (_volatile[key] ? 3 : 1));
            e.Bid = Math.Max(0.01, Math.Floor((mid - half) * 100) / 100);
            e.Ask = Math.Max(e.Bid + 0.01, Math.Ceiling((mid + half) * 100) / 100);
            e.Ask = Math.Round(e.Ask * 100) / 100;
        }
        else
        {
            e.Bid = double.NaN;
            e.Ask = double.NaN;
        }

        e.TimestampMs = ts;
        e.LogReturn = r;
        return label;
    }

    /// <inheritdoc />
    protected override int Write(Span<byte> destination, in TickEvent e, ReadOnlySpan<byte> keyEncoded, ReadOnlySpan<byte> label) =>
        EventJson.WriteTick(destination, keyEncoded, e.TimestampMs, e.Price, e.Size, e.Bid, e.Ask, label, decimals: 2, isoTimestamp: IsoTimestamps);
}
