#!/usr/bin/env python3
"""Independent MFCC reference for MfccTests (pure Python, naive DFT; no numpy needed).

Implements the documented algorithm of StreamLstm.Ingest.Audio.Mfcc from its description:
pre-emphasis 0.97 (y[0] = x[0]), Hamming 0.54 - 0.46 cos(2 pi n/(L-1)), zero-pad to N = 256 (8 kHz, L = 200, hop 80),
power |X[k]|^2 / N for k = 0..N/2, 26 triangular HTK-mel filters over 0..4000 Hz (continuous-Hz weights, peak 1),
natural log floored at 1e-10, orthonormal DCT-II, 13 coefficients; energy = log(sum of the power spectrum).

Usage: python3 mfcc_reference.py            -> synthetic signal (see synthetic())
       python3 mfcc_reference.py FILE.wav   -> a 16-bit mono WAV
Prints frame count and, for frames 0, 7 and 20, the 13 coefficients and the energy.
"""
import cmath, math, struct, sys, wave

SR, L, HOP, N, M, C = 8000, 200, 80, 256, 26, 13


def synthetic():
    # Same formula as MfccTests.Synthetic (float32 samples).
    out = []
    for n in range(2000):
        v = 0.5 * math.sin(2 * math.pi * 440 * n / SR) + 0.25 * math.sin(2 * math.pi * 1750 * n / SR + 0.3) \
            + 0.01 * (((n * 7919) % 101) - 50) / 50.0
        out.append(struct.unpack('f', struct.pack('f', v))[0])
    return out


def read_wav(path):
    with wave.open(path, 'rb') as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        raw = w.readframes(w.getnframes())
    return [s / 32768.0 for (s,) in struct.iter_unpack('<h', raw)]


def mel(f): return 2595.0 * math.log10(1 + f / 700.0)
def imel(m): return 700.0 * (10 ** (m / 2595.0) - 1)


def mfcc(x):
    y = [x[0]] + [x[n] - 0.97 * x[n - 1] for n in range(1, len(x))]
    edges = [imel(mel(0) + (mel(SR / 2) - mel(0)) * i / (M + 1)) for i in range(M + 2)]
    frames = 1 + (len(y) - L) // HOP if len(y) >= L else 0
    res = []
    for f in range(frames):
        seg = [y[f * HOP + n] * (0.54 - 0.46 * math.cos(2 * math.pi * n / (L - 1))) for n in range(L)] + [0.0] * (N - L)
        power = []
        for k in range(N // 2 + 1):
            s = sum(seg[n] * cmath.exp(-2j * math.pi * k * n / N) for n in range(N))
            power.append(abs(s) ** 2 / N)
        logmel = []
        for m in range(M):
            lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
            e = 0.0
            for k in range(N // 2 + 1):
                fk = k * SR / N
                w = 0.0 if fk <= lo or fk >= hi else ((fk - lo) / (c - lo) if fk <= c else (hi - fk) / (hi - c))
                e += w * power[k]
            logmel.append(math.log(max(e, 1e-10)))
        coeffs = []
        for n in range(C):
            s = math.sqrt(2.0 / M) * (1 / math.sqrt(2) if n == 0 else 1)
            coeffs.append(s * sum(logmel[m] * math.cos(math.pi * n * (m + 0.5) / M) for m in range(M)))
        res.append((coeffs, math.log(max(sum(power), 1e-10))))
    return res


if __name__ == '__main__':
    x = read_wav(sys.argv[1]) if len(sys.argv) > 1 else synthetic()
    frames = 1 + (len(x) - L) // HOP
    print('frames', frames)
    picks = [0, 7, 20]
    out = mfcc(x[: (max(picks) * HOP + L)])
    for f in picks:
        coeffs, energy = out[f]
        print(f, '[' + ', '.join('%.6f' % c for c in coeffs) + ']', '%.6f' % energy)
