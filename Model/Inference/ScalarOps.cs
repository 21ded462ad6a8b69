using System.Runtime.CompilerServices;

namespace StreamLstm.Model.Inference;

/// <summary>
/// One float per "register": the portable path (no hardware intrinsics). Its arithmetic is that of
/// <see cref="ScalarCell"/>, the reference: MathF's exp and tanh, an unfused cell update, and a head that starts
/// from the bias, so the scalar kernel and <see cref="SequenceForward"/> agree bit for bit.
/// </summary>
internal readonly struct ScalarOps : IVec<ScalarOps, float>
{
    public static int Lanes => 1;

    public static bool WideTile => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Load(ref float source, nuint offset) => Unsafe.Add(ref source, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void LoadPair(ref uint source, nuint offset, out float even, out float odd)
    {
        var w = Unsafe.Add(ref source, offset);
        even = BitConverter.UInt32BitsToSingle(w << 16);
        odd = BitConverter.UInt32BitsToSingle(w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(float value, ref float destination, nuint offset) => Unsafe.Add(ref destination, offset) = value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Broadcast(float value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Mul(float a, float b) => a * b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sigmoid(float x) => ScalarCell.Sigmoid(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Tanh(float x) => MathF.Tanh(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float NewCell(float i, float f, float g, float c) => (f * c) + (i * g);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HeadDot(ref float row, ref float h, int length, float bias)
    {
        var sum = bias;
        for (var j = 0; j < length; j++) sum = MathF.FusedMultiplyAdd(Unsafe.Add(ref row, j), Unsafe.Add(ref h, j), sum);
        return sum;
    }
}
