package dev.moekit.quantize;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API loops for the per-group hot paths. Each equals its scalar formula exactly: codes
 * {@code clamp(rint(x / scale) + zero, 0, maxq)} (round-half-even through the 1.5 * 2^23 trick, exact for
 * |x/scale| < 2^22 and clamped anyway beyond), values {@code scale * (q - zero)}. Shared by the weight quantizers
 * ({@code quantize.method}) and {@link QuantizedMatrix}.
 */
public final class Kernels {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, VectorShape.forBitSize(F.length() * 32));
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, F.length() * 8)));
    private static final float MAGIC = 12582912f; // 1.5 * 2^23
    private static final boolean VECTOR = B.length() == F.length();

    private Kernels() {
    }

    /** min(0, min x) and max(0, max x) over {@code x[from, from+len)}. */
    static float[] range(float[] x, int from, int len) {
        int k = from;
        int end = from + len;
        float min = 0f;
        float max = 0f;
        if (VECTOR) {
            FloatVector vmin = FloatVector.zero(F);
            FloatVector vmax = FloatVector.zero(F);
            for (int upper = from + F.loopBound(len); k < upper; k += F.length()) {
                FloatVector v = FloatVector.fromArray(F, x, k);
                vmin = vmin.min(v);
                vmax = vmax.max(v);
            }
            min = vmin.reduceLanes(VectorOperators.MIN);
            max = vmax.reduceLanes(VectorOperators.MAX);
        }
        for (; k < end; k++) {
            min = Math.min(min, x[k]);
            max = Math.max(max, x[k]);
        }
        return new float[] {min, max};
    }

    /** Codes of {@code x[from, from+len)} into {@code codes} at the same offsets. */
    public static void codes(float[] x, byte[] codes, int from, int len, float scale, int zero, int maxq) {
        int k = from;
        int end = from + len;
        if (VECTOR) {
            FloatVector vs = FloatVector.broadcast(F, scale);
            FloatVector vz = FloatVector.broadcast(F, zero);
            FloatVector vmagic = FloatVector.broadcast(F, MAGIC);
            FloatVector vmax = FloatVector.broadcast(F, maxq);
            FloatVector vzero = FloatVector.zero(F);
            for (int upper = from + F.loopBound(len); k < upper; k += F.length()) {
                FloatVector v = FloatVector.fromArray(F, x, k).div(vs);
                v = v.add(vmagic).sub(vmagic).add(vz).max(vzero).min(vmax);
                ((IntVector) v.convertShape(VectorOperators.F2I, I, 0)).convertShape(VectorOperators.I2B, B, 0)
                        .reinterpretAsBytes().intoArray(codes, k);
            }
        }
        for (; k < end; k++) {
            codes[k] = (byte) Grid.code(x[k], scale, zero, maxq);
        }
    }

    /** Values of {@code codes[from, from+len)} into {@code out} at the same offsets. */
    static void values(byte[] codes, float[] out, int from, int len, float scale, int zero) {
        int k = from;
        int end = from + len;
        if (VECTOR) {
            FloatVector vs = FloatVector.broadcast(F, scale);
            FloatVector vz = FloatVector.broadcast(F, zero);
            for (int upper = from + F.loopBound(len); k < upper; k += F.length()) {
                IntVector q = ((IntVector) ByteVector.fromArray(B, codes, k).convertShape(VectorOperators.B2I, I, 0)).and(0xff);
                ((FloatVector) q.convertShape(VectorOperators.I2F, F, 0)).sub(vz).mul(vs).intoArray(out, k);
            }
        }
        for (; k < end; k++) {
            out[k] = QuantizedMatrix.dequant(scale, codes[k] & 0xff, zero);
        }
    }
}
