using System.Runtime.CompilerServices;
using StreamLstm.Model.Lstm;

namespace StreamLstm.Model.Tests.TestSupport;

/// <summary>Plain float64 LSTM straight from PyTorch's formulas and parameter layout: the yardstick for every kernel.</summary>
internal static class ReferenceLstm
{
    /// <summary>One step for one sequence element. h, c are <c>[L][H]</c>; returns μ and log σ.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static (double[] Mu, double[] LogSigma) Step(LstmModel m, double[] x, double[][] h, double[][] c)
    {
        var cfg = m.Config;
        int hid = cfg.HiddenSize, k = cfg.Horizons;
        var input = x;
        for (var l = 0; l < cfg.Layers; l++)
        {
            var inSize = cfg.LayerInputSize(l);
            var gates = new double[4 * hid];
            for (var r = 0; r < 4 * hid; r++)
            {
                double s = m.BiasIh[l][r] + m.BiasHh[l][r];
                for (var j = 0; j < inSize; j++) s += m.WeightIh[l][r * inSize + j] * input[j];
                for (var j = 0; j < hid; j++) s += m.WeightHh[l][r * hid + j] * h[l][j];
                gates[r] = s;
            }

            var hn = new double[hid];
            for (var j = 0; j < hid; j++)
            {
                var i = Sig(gates[j]);
                var f = Sig(gates[hid + j]);
                var g = Math.Tanh(gates[2 * hid + j]);
                var o = Sig(gates[3 * hid + j]);
                c[l][j] = f * c[l][j] + i * g;
                hn[j] = o * Math.Tanh(c[l][j]);
            }

            h[l] = hn;
            input = hn;
        }

        var mu = new double[k];
        var ls = new double[k];
        for (var o = 0; o < 2 * k; o++)
        {
            double s = m.HeadBias[o];
            for (var j = 0; j < hid; j++) s += m.HeadWeight[o * hid + j] * input[j];
            if (o < k) mu[o] = s;
            else ls[o - k] = s;
        }

        return (mu, ls);
    }

    private static double Sig(double v) => 1 / (1 + Math.Exp(-v));
}
