namespace StreamLstm.Model.Inference;

/// <summary>
/// What <see cref="StepKernel{TOps, TVec}"/> needs from one vector width: <typeparamref name="TVec"/> is the register
/// type (Vector512&lt;float&gt;, Vector256&lt;float&gt;, Vector128&lt;float&gt; or float) and <typeparamref name="TSelf"/> an
/// empty struct whose static members operate on it. The driver is generic over the struct, so the JIT compiles one
/// specialised copy per width with every call below inlined (the TensorPrimitives operator-struct pattern).
/// Each member is exactly the operation the width's kernel has always used, so results stay bit-identical per width.
/// </summary>
/// <typeparam name="TSelf">The implementing struct.</typeparam>
/// <typeparam name="TVec">The register type.</typeparam>
internal interface IVec<TSelf, TVec>
    where TSelf : struct, IVec<TSelf, TVec>
    where TVec : struct
{
    /// <summary>Floats per register; also the unit-block width of the <see cref="VectorPack"/> the kernel reads.</summary>
    static abstract int Lanes { get; }

    /// <summary>Whether six-slot tiles fit: 24 accumulators plus weights need 32 registers (AVX-512, Arm64).</summary>
    static abstract bool WideTile { get; }

    /// <summary>Loads <see cref="Lanes"/> floats at <paramref name="source"/> + <paramref name="offset"/>.</summary>
    static abstract TVec Load(ref float source, nuint offset);

    /// <summary>
    /// Loads <see cref="Lanes"/> 32-bit words of the 16-bit weight format (<see cref="Bf16Pairs"/>) at
    /// <paramref name="source"/> + <paramref name="offset"/>: <paramref name="even"/> = each word shifted left by 16,
    /// <paramref name="odd"/> = each word read as a float. Both exact.
    /// </summary>
    static abstract void LoadPair(ref uint source, nuint offset, out TVec even, out TVec odd);

    /// <summary>Stores <see cref="Lanes"/> floats at <paramref name="destination"/> + <paramref name="offset"/>.</summary>
    static abstract void Store(TVec value, ref float destination, nuint offset);

    /// <summary>Every lane = <paramref name="value"/>.</summary>
    static abstract TVec Broadcast(float value);

    /// <summary>a · b + c with one rounding.</summary>
    static abstract TVec Fma(TVec a, TVec b, TVec c);

    /// <summary>a · b.</summary>
    static abstract TVec Mul(TVec a, TVec b);

    /// <summary>Logistic sigmoid.</summary>
    static abstract TVec Sigmoid(TVec x);

    /// <summary>Hyperbolic tangent.</summary>
    static abstract TVec Tanh(TVec x);

    /// <summary>The new cell state f·c + i·g (fused or not, as this width always computed it).</summary>
    static abstract TVec NewCell(TVec i, TVec f, TVec g, TVec c);

    /// <summary>One head output: bias + Σ row[j]·h[j] over <paramref name="length"/> elements, in this width's order.</summary>
    static abstract float HeadDot(ref float row, ref float h, int length, float bias);
}

/// <summary>
/// Element-wise arithmetic a SIMD width adds so <see cref="SimdMath"/> can build exp, sigmoid and tanh (and the head's
/// dot product) once for all widths.
/// </summary>
/// <typeparam name="TSelf">The implementing struct.</typeparam>
/// <typeparam name="TVec">The register type.</typeparam>
internal interface ISimdVec<TSelf, TVec> : IVec<TSelf, TVec>
    where TSelf : struct, ISimdVec<TSelf, TVec>
    where TVec : struct
{
    /// <summary>a + b.</summary>
    static abstract TVec Add(TVec a, TVec b);

    /// <summary>a − b.</summary>
    static abstract TVec Sub(TVec a, TVec b);

    /// <summary>−x.</summary>
    static abstract TVec Negate(TVec x);

    /// <summary>
    /// x clamped to [−86, 86], exp's input range. The bounds are literals in each implementation: with constant operands
    /// the JIT emits plain max/min, with variable ones the slower NaN- and sign-exact sequence.
    /// </summary>
    static abstract TVec ClampExpInput(TVec x);

    /// <summary>1 / x (an estimate refined to about 1 ulp where the hardware has one, else a division).</summary>
    static abstract TVec Recip(TVec x);

    /// <summary>Reinterprets lanes as int32, computes y + ((t − m) &lt;&lt; 23), reinterprets back: scales y by 2^n.</summary>
    static abstract TVec AddExponent(TVec y, TVec t, TVec m);

    /// <summary>Sum of the lanes (the runtime's fixed reduction order for this width).</summary>
    static abstract float Sum(TVec v);
}
