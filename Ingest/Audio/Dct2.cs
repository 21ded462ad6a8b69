namespace StreamLstm.Ingest.Audio;

/// <summary>
/// Orthonormal DCT-II, the cepstral step of MFCC: <c>c[n] = sqrt(2/M) · s(n) · Σ_m x[m] · cos(π n (m + ½) / M)</c>,
/// with <c>s(0) = 1/√2</c> and <c>s(n&gt;0) = 1</c>. A constant input of value v gives <c>c[0] = v·√M</c> and zeros.
/// </summary>
public sealed class Dct2
{
    private readonly double[] _matrix;

    /// <summary>Precomputes the <paramref name="outputs"/> × <paramref name="inputs"/> matrix.</summary>
    /// <param name="inputs">M, the input length (mel filter count).</param>
    /// <param name="outputs">Coefficients kept (≤ M).</param>
    public Dct2(int inputs, int outputs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(outputs, inputs);
        Inputs = inputs;
        Outputs = outputs;
        _matrix = new double[inputs * outputs];
        var scale = Math.Sqrt(2.0 / inputs);
        for (var n = 0; n < outputs; n++)
        {
            var s = n == 0 ? scale / Math.Sqrt(2) : scale;
            for (var m = 0; m < inputs; m++)
            {
                _matrix[(n * inputs) + m] = s * Math.Cos(Math.PI * n * (m + 0.5) / inputs);
            }
        }
    }

    /// <summary>M, the input length.</summary>
    public int Inputs { get; }

    /// <summary>Number of coefficients produced.</summary>
    public int Outputs { get; }

    /// <summary>Transforms <paramref name="input"/> (length M) into <paramref name="output"/> (length Outputs).</summary>
    /// <param name="input">Input vector.</param>
    /// <param name="output">Coefficients.</param>
    public void Apply(ReadOnlySpan<double> input, Span<float> output)
    {
        if (input.Length != Inputs || output.Length < Outputs)
        {
            throw new ArgumentException($"DCT expects {Inputs} inputs and room for {Outputs} outputs.");
        }

        var m = _matrix.AsSpan();
        for (var n = 0; n < Outputs; n++)
        {
            var row = m.Slice(n * Inputs, Inputs);
            // Four independent accumulators (fixed order: lanes i mod 4, then pairwise, then the tail) break the add
            // latency chain and give the same bits on every machine.
            double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
            var i = 0;
            for (; i + 4 <= row.Length; i += 4)
            {
                a0 += row[i] * input[i];
                a1 += row[i + 1] * input[i + 1];
                a2 += row[i + 2] * input[i + 2];
                a3 += row[i + 3] * input[i + 3];
            }

            var acc = (a0 + a1) + (a2 + a3);
            for (; i < row.Length; i++)
            {
                acc += row[i] * input[i];
            }

            output[n] = (float)acc;
        }
    }
}
