using StreamLstm.Ingest.Generators;
using static StreamLstm.Ingest.Tests.Generators.GeneratorTestKit;

namespace StreamLstm.Ingest.Tests.Generators;

public class GeneratorAnomalyTests
{
    [Fact]
    public void Ticks_JumpsAreLabelledAndAreLargeReturns_VolatileRegimeHasWiderReturns()
    {
        var g = new TickGenerator(new TickGeneratorOptions { Keys = 20, Seed = 9, JumpProbability = 0.002, MeanCalmSeconds = 300, MeanVolatileSeconds = 60 });
        var calm = new List<double>();
        var volatileReturns = new List<double>();
        var jumps = new List<double>();
        for (var i = 0; i < 200_000; i++)
        {
            var info = g.NextEvent(out var e);
            (info.Anomaly switch
            {
                AnomalyKind.PriceJump => jumps,
                AnomalyKind.VolatilityRegime => volatileReturns,
                _ => calm,
            }).Add(e.LogReturn);
        }

        Assert.True(jumps.Count > 100, $"only {jumps.Count} jumps");
        Assert.True(volatileReturns.Count > 5_000, $"only {volatileReturns.Count} volatile-regime events");
        var calmStd = Std(calm);
        // Every labelled jump moves the price far more than ordinary noise; no unlabelled event does.
        Assert.All(jumps, r => Assert.True(Math.Abs(r) > 10 * calmStd, $"jump {r} vs calm std {calmStd}"));
        Assert.True(calm.Max(Math.Abs) < 10 * calmStd);
        Assert.InRange(Std(volatileReturns) / calmStd, 3.0, 5.0);
    }

    [Fact]
    public void Ticks_CalmReturnsScaleWithElapsedTime_AsInGeometricBrownianMotion()
    {
        // GBM: r ~ N(-σ²dt/2, σ²dt), so r²/dt averages σ² whatever the gap; test at two very different rates.
        foreach (var rate in new[] { 50.0, 0.5 })
        {
            var o = new TickGeneratorOptions { Keys = 5, Seed = 8, EventsPerKeyPerSecond = rate, AnomalyRateScale = 0, CalmVolatility = 0.002 };
            var g = new TickGenerator(o);
            var last = new long[5];
            var sum = 0.0;
            var n = 0;
            for (var i = 0; i < 100_000; i++)
            {
                var info = g.NextEvent(out var e);
                var dt = (info.TimestampMs - last[info.KeyIndex]) / 1000.0;
                if (last[info.KeyIndex] != 0 && dt >= 0.005)
                {
                    sum += e.LogReturn * e.LogReturn / dt;
                    n++;
                }

                last[info.KeyIndex] = info.TimestampMs;
            }

            Assert.InRange(sum / n / (o.CalmVolatility * o.CalmVolatility), 0.93, 1.07);
        }
    }

    [Fact]
    public void Ticks_PricesFollowTheLogReturns()
    {
        var g = new TickGenerator(new TickGeneratorOptions { Keys = 1, Seed = 4, QuoteProbability = 0 });
        g.NextEvent(out var first);
        var logPrice = Math.Log(first.Price);
        for (var i = 0; i < 5_000; i++)
        {
            g.NextEvent(out var e);
            logPrice += e.LogReturn;
            // Cent rounding is the only gap between the GBM path and the published price.
            Assert.InRange(e.Price, Math.Exp(logPrice) - 0.0051 - (first.Price * 1e-4), Math.Exp(logPrice) + 0.0051 + (first.Price * 1e-4));
        }
    }

    [Fact]
    public void Vitals_TachycardiaRaisesHeartRate_DesaturationLowersSpo2()
    {
        var g = new VitalsGenerator(new VitalsGeneratorOptions { Keys = 20, Seed = 2, TachycardiaPerHour = 3, DesaturationPerHour = 3, MissingnessScale = 0 });
        var byPatient = new Dictionary<int, List<(AnomalyKind Kind, VitalValues V)>>();
        for (var i = 0; i < 20 * 3 * 3600; i++)
        {
            var info = g.NextEvent(out var e);
            if (!byPatient.TryGetValue(info.KeyIndex, out var list))
            {
                byPatient[info.KeyIndex] = list = [];
            }

            list.Add((info.Anomaly, e.Values));
        }

        var tachyRise = new List<double>();
        var desatDrop = new List<double>();
        foreach (var (_, list) in byPatient)
        {
            var normalHr = Mean(list.Where(x => x.Kind == AnomalyKind.None).Select(x => x.V.Hr));
            var normalSpo2 = Mean(list.Where(x => x.Kind == AnomalyKind.None).Select(x => x.V.Spo2));
            if (list.Any(x => x.Kind == AnomalyKind.Tachycardia))
            {
                tachyRise.Add(Mean(list.Where(x => x.Kind == AnomalyKind.Tachycardia).Select(x => x.V.Hr)) - normalHr);
            }

            if (list.Any(x => x.Kind == AnomalyKind.Desaturation))
            {
                desatDrop.Add(normalSpo2 - Mean(list.Where(x => x.Kind == AnomalyKind.Desaturation).Select(x => x.V.Spo2)));
                Assert.True(list.Where(x => x.Kind == AnomalyKind.Desaturation).Min(x => x.V.Spo2) < 90, "desaturation reaches below 90 %");
            }
        }

        Assert.True(tachyRise.Count >= 10, $"tachycardia in only {tachyRise.Count} patients");
        Assert.True(desatDrop.Count >= 10, $"desaturation in only {desatDrop.Count} patients");
        Assert.All(tachyRise, d => Assert.True(d > 20, $"tachycardia raised mean HR by only {d:F1}"));
        Assert.All(desatDrop, d => Assert.True(d > 5, $"desaturation lowered mean SpO2 by only {d:F1}"));
    }

    [Fact]
    public void Vitals_ShowBreathingAndCircadianRhythm()
    {
        // One patient, 1 Hz, 48 h, no episodes, no missingness: HR should swing with a 24 h period.
        var g = new VitalsGenerator(new VitalsGeneratorOptions { Keys = 1, Seed = 1, AnomalyRateScale = 0, MissingnessScale = 0, StartUnixMs = 0 });
        var hourly = new double[48];
        var counts = new int[48];
        for (var i = 0; i < 48 * 3600; i++)
        {
            var info = g.NextEvent(out var e);
            var h = (int)Math.Min(47, info.TimestampMs / 3_600_000);
            hourly[h] += e.Values.Hr;
            counts[h]++;
            Assert.False(info.IsAnomaly);
        }

        for (var h = 0; h < 48; h++)
        {
            hourly[h] /= counts[h];
        }

        // Afternoon (14-18 h) is higher than night (2-6 h) on both days.
        for (var day = 0; day < 2; day++)
        {
            var afternoon = hourly.Skip((day * 24) + 14).Take(4).Average();
            var night = hourly.Skip((day * 24) + 2).Take(4).Average();
            Assert.True(afternoon - night > 4, $"day {day}: afternoon {afternoon:F1} vs night {night:F1}");
        }
    }

    [Fact]
    public void Audio_NoiseBurstsAreFlatAndLoud_OnsetsRiseFromSilence()
    {
        var g = new AudioFrameGenerator(new AudioGeneratorOptions { Keys = 8, Seed = 3, NoiseBurstProbability = 0.01 });
        var previousEnergy = new double[8];
        var preOnset = new double[8];
        var onsetPeak = new double[8];
        var inOnset = new bool[8];
        var burstShape = new List<double>();
        var soundShape = new List<double>();
        var onsetRises = 0;
        var onsets = 0;
        var previousLabel = new AnomalyKind[8];
        for (var i = 0; i < 100_000; i++)
        {
            var info = g.NextEvent(out var e);
            var k = info.KeyIndex;
            // Spectral shape: energy in c1..c12 (a flat log spectrum puts everything in c0).
            var shape = 0.0;
            for (var c = 1; c < 13; c++)
            {
                shape += e.Coeffs[c] * e.Coeffs[c];
            }

            if (inOnset[k] && info.Anomaly != AnomalyKind.Onset)
            {
                // An onset is over: its frames must have risen well above the silence before it.
                inOnset[k] = false;
                onsets++;
                onsetRises += onsetPeak[k] > preOnset[k] + 3 ? 1 : 0;
            }

            if (info.Anomaly == AnomalyKind.NoiseBurst)
            {
                burstShape.Add(shape);
                Assert.True(e.Energy > -2, $"noise burst energy {e.Energy} should be loud");
            }
            else if (info.Anomaly == AnomalyKind.Onset)
            {
                if (!inOnset[k] && previousLabel[k] is AnomalyKind.None)
                {
                    inOnset[k] = true;
                    preOnset[k] = previousEnergy[k];
                    onsetPeak[k] = double.NegativeInfinity;
                }

                onsetPeak[k] = Math.Max(onsetPeak[k], e.Energy);
            }
            else if (info.Anomaly == AnomalyKind.None && e.Energy > -6)
            {
                soundShape.Add(shape);
            }

            previousEnergy[k] = e.Energy;
            previousLabel[k] = info.Anomaly;
        }

        Assert.True(burstShape.Count > 500 && onsets > 100, $"{burstShape.Count} burst frames, {onsets} onsets");
        Assert.True(Mean(burstShape) * 5 < Mean(soundShape), $"burst shape {Mean(burstShape):F2} vs sound shape {Mean(soundShape):F2}");
        Assert.True(onsetRises > 0.9 * onsets, $"only {onsetRises} of {onsets} onsets rise in energy");
    }

    [Fact]
    public void AnomalyRateScaleZero_InjectsNothing()
    {
        Assert.DoesNotContain(Take(new TickGenerator(new TickGeneratorOptions { Keys = 5, AnomalyRateScale = 0 }), 50_000), i => i.Info.IsAnomaly);
        Assert.DoesNotContain(Take(new VitalsGenerator(new VitalsGeneratorOptions { Keys = 5, AnomalyRateScale = 0 }), 50_000), i => i.Info.IsAnomaly);
        Assert.DoesNotContain(Take(new AudioFrameGenerator(new AudioGeneratorOptions { Keys = 5, AnomalyRateScale = 0 }), 50_000), i => i.Info.Anomaly == AnomalyKind.NoiseBurst);
    }
}
