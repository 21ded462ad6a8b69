using StreamLstm.Ingest.Audio;

namespace StreamLstm.Ingest.Tests.Audio;

public class MfccTests
{
    // Printed by tests/Ingest.Tests/Audio/mfcc_reference.py (pure-Python naive-DFT implementation of the documented
    // algorithm): frames 0, 7 and 20 of Synthetic(): 13 coefficients, then the log energy.
    private static readonly (int Frame, double[] Coeffs, double Energy)[] SyntheticReference =
    [
        (0, [-41.907272, -3.760979, -2.706693, -0.347388, -9.298487, -9.304395, 5.631300, 2.597103, 1.223427, 8.392515, -1.884189, -3.709329, -1.388736], 0.909553),
        (7, [-41.233292, -2.979923, -2.827350, -0.033612, -8.281176, -9.021451, 5.754289, 2.635912, 1.277094, 8.511459, -2.065241, -3.716168, -1.474017], 0.926175),
        (20, [-40.940489, -2.571296, -2.377784, 0.323419, -8.166804, -9.014524, 5.709181, 2.557877, 1.192195, 8.496001, -2.036786, -3.730938, -1.518431], 0.929418),
    ];

    // Same script on the real file 3_jackson_1.wav (FSDD, CC BY-SA 4.0).
    private static readonly (int Frame, double[] Coeffs, double Energy)[] JacksonReference =
    [
        (0, [-60.026107, -3.736176, -2.801872, -8.317932, -6.023387, -0.769799, 1.042854, -0.799198, -1.353749, -0.839065, 2.313254, -2.924748, 1.506219], -6.832626),
        (7, [-42.951773, 2.463413, -5.919102, 2.132333, -3.360784, -7.308786, 1.865701, -2.164434, -2.591098, -0.829738, -0.750304, -0.410768, -1.693677], -3.310350),
        (20, [-35.192905, -3.633909, -2.285449, 0.333512, -5.895496, -4.456320, 0.870878, -3.322782, -0.776855, -0.571652, -1.681404, -1.165966, -0.426317], -2.053811),
    ];

    internal static float[] Synthetic()
    {
        var x = new float[2000];
        for (var n = 0; n < x.Length; n++)
        {
            x[n] = (float)((0.5 * Math.Sin(2 * Math.PI * 440 * n / 8000)) + (0.25 * Math.Sin((2 * Math.PI * 1750 * n / 8000) + 0.3))
                + (0.01 * (((n * 7919) % 101) - 50) / 50.0));
        }

        return x;
    }

    [Fact]
    public void SyntheticSignal_MatchesIndependentPythonReference()
    {
        AssertMatches(Synthetic(), 23, SyntheticReference);
    }

    [Fact]
    public void RealFsddRecording_MatchesIndependentPythonReference()
    {
        var data = Replay.TestData.Directory;
        Assert.SkipUnless(data is not null, "../shared/data not found");
        var wav = WavReader.Read(Path.Combine(data!, "audio/fsdd_recordings/3_jackson_1.wav"));
        Assert.Equal(8000, wav.SampleRate);
        AssertMatches(wav.Samples, 45, JacksonReference);
    }

    [Theory]
    [InlineData(8000, 200, 80, 256)]
    [InlineData(16000, 400, 160, 512)]
    public void FrameGeometry_Is25msWindows10msHop_AndCountIsOnePlusFloorOfRemainderOverHop(int rate, int window, int hop, int fft)
    {
        var mfcc = new Mfcc(new MfccOptions { SampleRate = rate });
        Assert.Equal(window, mfcc.WindowSamples);
        Assert.Equal(hop, mfcc.HopSamples);
        Assert.Equal(fft, mfcc.FftSize);
        foreach (var n in new[] { window - 1, window, window + hop - 1, window + hop, 12_345 })
        {
            Assert.Equal(n < window ? 0 : 1 + ((n - window) / hop), mfcc.FrameCount(n));
        }

        var x = new float[12_345];
        var frames = mfcc.FrameCount(x.Length);
        mfcc.Compute(x, new float[frames * 13], new float[frames]);
    }

    [Theory]
    [InlineData(300.0)]
    [InlineData(1000.0)]
    [InlineData(2500.0)]
    public void PureTone_PutsItsEnergyInTheMelBandCentredNearestTheTone(double hz)
    {
        var mfcc = new Mfcc(new MfccOptions { SampleRate = 16000 });
        var frame = new float[mfcc.WindowSamples];
        for (var n = 0; n < frame.Length; n++)
        {
            frame[n] = (float)(0.5 * Math.Sin(2 * Math.PI * hz * n / 16000));
        }

        mfcc.ComputeFrame(frame, new float[13]);
        var logMel = mfcc.LastLogMel.ToArray();
        var loudest = Array.IndexOf(logMel, logMel.Max());
        var centres = mfcc.Filterbank.EdgesHz.Skip(1).Take(mfcc.Filterbank.Filters).ToArray();
        var nearest = Array.IndexOf(centres, centres.MinBy(c => Math.Abs(c - hz)));
        Assert.InRange(loudest, nearest - 1, nearest + 1);
        Assert.True(Math.Abs(centres[loudest] - hz) < 0.12 * hz, $"loudest band centred at {centres[loudest]:F0} Hz for a {hz} Hz tone");
        // Far bands see orders of magnitude less.
        Assert.True(logMel.Max() - logMel[0] > 5 || loudest < 3);
    }

    [Fact]
    public void Silence_GivesTheLogFloorInC0AndZerosElsewhere()
    {
        var mfcc = new Mfcc(new MfccOptions());
        var coeffs = new float[13];
        var energy = mfcc.ComputeFrame(new float[mfcc.WindowSamples], coeffs);
        Assert.Equal(Math.Log(1e-10), energy, 4);
        Assert.Equal(Math.Log(1e-10) * Math.Sqrt(26), coeffs[0], 3);
        Assert.All(coeffs[1..], c => Assert.Equal(0, c, 4));
    }

    [Fact]
    public void Dct_OfConstantIsC0Only_AndFullDctPreservesEnergy()
    {
        var dct = new Dct2(26, 13);
        var c = new float[13];
        dct.Apply(Enumerable.Repeat(-2.5, 26).ToArray(), c);
        Assert.Equal(-2.5 * Math.Sqrt(26), c[0], 4);
        Assert.All(c[1..], v => Assert.Equal(0, v, 5));

        var full = new Dct2(26, 26);
        var x = Enumerable.Range(0, 26).Select(i => Math.Sin(i * 1.3) + (0.1 * i)).ToArray();
        var y = new float[26];
        full.Apply(x, y);
        Assert.Equal(x.Sum(v => v * v), y.Sum(v => (double)v * v), 3); // orthonormal: Parseval holds
    }

    [Fact]
    public void Fft_MatchesNaiveDft()
    {
        var fft = new Fft(64);
        var re = Enumerable.Range(0, 64).Select(i => Math.Cos(i * 0.7) + (0.3 * Math.Sin(i * i * 0.01))).ToArray();
        var im = new double[64];
        var inputRe = re.ToArray();
        fft.Forward(re, im);
        for (var k = 0; k < 64; k++)
        {
            double sr = 0, si = 0;
            for (var n = 0; n < 64; n++)
            {
                sr += inputRe[n] * Math.Cos(2 * Math.PI * k * n / 64);
                si -= inputRe[n] * Math.Sin(2 * Math.PI * k * n / 64);
            }

            Assert.Equal(sr, re[k], 9);
            Assert.Equal(si, im[k], 9);
        }
    }

    [Fact]
    public void MelFilterbank_IsTriangularWithPeakOneAtCentres()
    {
        var bank = new MelFilterbank(26, 4096, 8000, 0, 4000);
        Assert.Equal(0, bank.EdgesHz[0], 6);
        Assert.Equal(4000, bank.EdgesHz[^1], 6);
        for (var m = 0; m < 26; m++)
        {
            var peakBin = (int)Math.Round(bank.EdgesHz[m + 1] * 4096 / 8000);
            Assert.InRange(bank.Weight(m, peakBin), 0.9, 1.0);
            Assert.Equal(0, bank.Weight(m, (int)Math.Floor(bank.EdgesHz[m] * 4096 / 8000)));
        }

        // Equal spacing on the mel scale.
        var mels = bank.EdgesHz.Select(MelFilterbank.HzToMel).ToArray();
        for (var i = 1; i < mels.Length; i++)
        {
            Assert.Equal(mels[1] - mels[0], mels[i] - mels[i - 1], 6);
        }
    }

    [Fact]
    public void InvalidOptions_AreRejectedWithTheSettingNamed()
    {
        Assert.Contains("Coefficients", Assert.Throws<ArgumentException>(() => new Mfcc(new MfccOptions { Coefficients = 40 })).Message, StringComparison.Ordinal);
        Assert.Contains("FftSize", Assert.Throws<ArgumentException>(() => new Mfcc(new MfccOptions { FftSize = 100 })).Message, StringComparison.Ordinal);
    }

    private static void AssertMatches(float[] samples, int expectedFrames, (int Frame, double[] Coeffs, double Energy)[] reference)
    {
        var mfcc = new Mfcc(new MfccOptions());
        var frames = mfcc.FrameCount(samples.Length);
        Assert.Equal(expectedFrames, frames);
        var coeffs = new float[frames * 13];
        var energy = new float[frames];
        mfcc.Compute(samples, coeffs, energy);
        foreach (var (frame, want, wantEnergy) in reference)
        {
            for (var c = 0; c < 13; c++)
            {
                Assert.True(Math.Abs(want[c] - coeffs[(frame * 13) + c]) < 2e-4 * Math.Max(1, Math.Abs(want[c])), $"frame {frame} c{c}: {coeffs[(frame * 13) + c]} vs reference {want[c]}");
            }

            Assert.Equal(wantEnergy, energy[frame], 4);
        }
    }
}
