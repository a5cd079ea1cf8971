package dev.moekit.toolkit.tensor;

import dev.moekit.toolkit.io.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Conversions between the floating dtypes of checkpoints and fp32. bf16 goes both ways with the Vector API (a 16-bit
 * shift one way, round-to-nearest-even the other), and straight to fp16 in integer lanes ({@link #bf16ToF16}); fp16
 * otherwise uses the JDK's intrinsified {@link Float#float16ToFloat};
 * fp8 (E4M3, E5M2) uses 256-entry tables. All sources are little-endian and may be unaligned.
 */
public final class Floats {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Shorts for as many lanes as {@link #I} has ints: half its bit width. */
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(I.length() * 16));
    private static final float[] E4M3 = table(4, 3, 7, true);
    private static final float[] E5M2 = table(5, 2, 15, false);

    private Floats() {}

    /** fp32 value of a bf16 bit pattern. */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** bf16 bit pattern of an fp32 value, rounding to nearest even; NaNs stay quiet NaNs. */
    public static short floatToBf16(float f) {
        int b = Float.floatToRawIntBits(f);
        if ((b & 0x7fffffff) > 0x7f800000) {
            return (short) ((b >>> 16) | 0x40);
        }
        return (short) ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
    }

    /** Decodes {@code count} elements of {@code dtype} from the start of {@code src} into {@code dst[off...]}. */
    public static void decode(MemorySegment src, DType dtype, float[] dst, int off, int count) {
        decode(src, 0, dtype, dst, off, count);
    }

    /** Decodes {@code count} elements starting at element {@code first} of {@code src}. */
    public static void decode(MemorySegment src, long first, DType dtype, float[] dst, int off, int count) {
        long base = first * dtype.size();
        switch (dtype) {
            case BF16 -> bf16ToFloat(src, base, dst, off, count);
            case F32 -> MemorySegment.copy(src, FLOAT, base, dst, off, count);
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    dst[off + i] = Float.float16ToFloat(src.get(SHORT, base + 2L * i));
                }
            }
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    dst[off + i] = (float) src.get(DOUBLE, base + 8L * i);
                }
            }
            case F8_E4M3, F8_E5M2 -> {
                float[] t = dtype == DType.F8_E4M3 ? E4M3 : E5M2;
                for (int i = 0; i < count; i++) {
                    dst[off + i] = t[src.get(ValueLayout.JAVA_BYTE, base + i) & 0xff];
                }
            }
            default -> throw new IllegalArgumentException("cannot decode " + dtype + " as floating point");
        }
    }

    /** Decodes a whole segment of {@code dtype} into a new array (in parallel chunks, see {@link #decodeInto}). */
    public static float[] decode(MemorySegment src, DType dtype) {
        long n = src.byteSize() / dtype.size();
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("tensor of " + n + " elements is too large for one float[]; decode it in slices");
        }
        float[] out = new float[(int) n];
        decodeInto(src, dtype, out);
        return out;
    }

    /**
     * Decodes the whole of {@code src} into {@code dst}, which must hold exactly its elements. Large tensors are split
     * into chunks of {@value #PARALLEL_CHUNK} elements decoded on the common fork-join pool (the values do not depend
     * on the split), so a reused buffer is refilled at memory speed and the page faults of a mapped source are taken
     * on every core.
     */
    public static void decodeInto(MemorySegment src, DType dtype, float[] dst) {
        if (src.byteSize() != (long) dst.length * dtype.size()) {
            throw new IllegalArgumentException("source has " + src.byteSize() + " bytes of " + dtype + ", buffer holds " + dst.length + " values");
        }
        int n = dst.length;
        if (n <= PARALLEL_CHUNK) {
            decode(src, dtype, dst, 0, n);
            return;
        }
        java.util.stream.IntStream.range(0, (n + PARALLEL_CHUNK - 1) / PARALLEL_CHUNK).parallel().forEach(c -> {
            int from = c * PARALLEL_CHUNK;
            decode(src, from, dtype, dst, from, Math.min(PARALLEL_CHUNK, n - from));
        });
    }

    /** A thread that is not the caller's, to ask whether a segment may be used by the pool's threads. */
    private static final Thread OTHER = new Thread(() -> { });

    /** Elements per task of the parallel decode (a multiple of every vector length). */
    public static final int PARALLEL_CHUNK = 1 << 20;

    /** Encodes {@code src[off..off+count)} as {@code dtype} at byte {@code dstByte} of {@code dst}. */
    public static void encode(float[] src, int off, int count, DType dtype, MemorySegment dst, long dstByte) {
        switch (dtype) {
            case BF16 -> floatToBf16(src, off, count, dst, dstByte);
            case F32 -> MemorySegment.copy(src, off, dst, FLOAT, dstByte, count);
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    dst.set(SHORT, dstByte + 2L * i, Float.floatToFloat16(src[off + i]));
                }
            }
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    dst.set(DOUBLE, dstByte + 8L * i, src[off + i]);
                }
            }
            default -> throw new IllegalArgumentException("cannot encode floats as " + dtype);
        }
    }

    /** Encodes a whole array into a new heap segment of {@code dtype}. */
    public static MemorySegment encode(float[] src, DType dtype) {
        MemorySegment dst = MemorySegment.ofArray(new byte[Math.multiplyExact(src.length, dtype.size())]);
        encode(src, 0, src.length, dtype, dst, 0);
        return dst;
    }

    /**
     * Converts {@code count} elements from {@code src} ({@code from}) into {@code dst} ({@code to}), so any size works:
     * bf16 to fp32 and bf16 to fp16 directly with the Vector API, other pairs through a float scratch buffer. Tensors
     * of more than {@value #PARALLEL_CHUNK} elements are converted in chunks on the common fork-join pool (the
     * values do not depend on the split), so loading a model converts at the speed of all cores; segments confined to
     * the calling thread are converted on it alone.
     */
    public static void convert(MemorySegment src, DType from, MemorySegment dst, DType to, long count) {
        if (from == to) {
            MemorySegment.copy(src, 0, dst, 0, count * from.size());
            return;
        }
        if (count <= PARALLEL_CHUNK || !src.isAccessibleBy(OTHER) || !dst.isAccessibleBy(OTHER)) {
            convertRange(src, from, dst, to, 0, count);
            return;
        }
        long chunks = (count + PARALLEL_CHUNK - 1) / PARALLEL_CHUNK;
        java.util.stream.LongStream.range(0, chunks).parallel()
                .forEach(c -> convertRange(src, from, dst, to, c * PARALLEL_CHUNK, Math.min(PARALLEL_CHUNK, count - c * PARALLEL_CHUNK)));
    }

    /** Elements {@code [first, first + n)} of {@link #convert}. */
    private static void convertRange(MemorySegment src, DType from, MemorySegment dst, DType to, long first, long n) {
        if (from == DType.BF16 && to == DType.F32) {
            bf16ToF32Segment(src.asSlice(2 * first, 2 * n), dst.asSlice(4 * first, 4 * n), n);
            return;
        }
        if (from == DType.BF16 && to == DType.F16) {
            bf16ToF16Segment(src.asSlice(2 * first, 2 * n), dst.asSlice(2 * first, 2 * n), n);
            return;
        }
        int chunk = (int) Math.min(n, 1 << 16);
        float[] buf = new float[chunk];
        for (long i = first; i < first + n; i += chunk) {
            int k = (int) Math.min(chunk, first + n - i);
            decode(src, i, from, buf, 0, k);
            encode(buf, 0, k, to, dst, i * to.size());
        }
    }

    /**
     * fp16 bit pattern of a bf16 value, rounding to nearest even: exactly {@code Float.floatToFloat16} of the bf16
     * value, without going through fp32. A bf16 value has 8 exponent and 7 fraction bits: normal fp16 values (bf16
     * exponent 113..142) take the fraction shifted by 3 unchanged; larger finite values overflow to infinity; smaller
     * ones become fp16 subnormals or zero, {@code (128 + fraction) * 2^(e - 110)} units of 2^-24 rounded half to even;
     * NaNs stay NaNs with their fraction and the quiet bit set.
     */
    public static short bf16ToF16(short bits) {
        int b = bits & 0xffff;
        int sign = b & 0x8000;
        int e = (b >>> 7) & 0xff;
        int m = b & 0x7f;
        if (e == 0xff) {
            return (short) (sign | (m == 0 ? 0x7c00 : 0x7e00 | m << 3));
        }
        if (e >= 143) {
            return (short) (sign | 0x7c00);
        }
        if (e >= 113) {
            return (short) (sign | (e - 112) << 10 | m << 3);
        }
        int t = (128 + m) << 3;
        int sh = Math.min(13, 113 - e);
        return (short) (sign | (t + (1 << (sh - 1)) - 1 + ((t >>> sh) & 1)) >>> sh);
    }

    private static void bf16ToF16Segment(MemorySegment src, MemorySegment dst, long count) {
        long i = 0;
        int lanes = I.length();
        long upper = count - (count % lanes);
        IntVector one = IntVector.broadcast(I, 1);
        for (; i < upper; i += lanes) { // bf16ToF16, lane-wise
            IntVector b = (IntVector) ShortVector.fromMemorySegment(S, src, 2L * i, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
            IntVector e = b.lanewise(VectorOperators.LSHR, 7).and(0xff);
            IntVector m = b.and(0x7f);
            IntVector m3 = m.lanewise(VectorOperators.LSHL, 3);
            IntVector normal = e.sub(112).lanewise(VectorOperators.LSHL, 10).or(m3);
            IntVector t = m.add(128).lanewise(VectorOperators.LSHL, 3);
            IntVector sh = e.neg().add(113).min(13);
            IntVector half = one.lanewise(VectorOperators.LSHL, sh.sub(1)).sub(1);
            IntVector sub = t.add(half).add(t.lanewise(VectorOperators.LSHR, sh).and(1)).lanewise(VectorOperators.LSHR, sh);
            IntVector h = normal.blend(sub, e.compare(VectorOperators.LE, 112))
                    .blend(0x7c00, e.compare(VectorOperators.GE, 143))
                    .blend(m3.or(0x7e00), e.compare(VectorOperators.EQ, 0xff).and(m.compare(VectorOperators.NE, 0)));
            ((ShortVector) h.or(b.and(0x8000)).convertShape(VectorOperators.I2S, S, 0)).intoMemorySegment(dst, 2L * i, ByteOrder.LITTLE_ENDIAN);
        }
        for (; i < count; i++) {
            dst.set(SHORT, 2L * i, bf16ToF16(src.get(SHORT, 2L * i)));
        }
    }

    private static void bf16ToFloat(MemorySegment src, long base, float[] dst, int off, int count) {
        int i = 0;
        int lanes = I.length();
        int upper = count - (count % lanes);
        for (; i < upper; i += lanes) {
            ShortVector s = ShortVector.fromMemorySegment(S, src, base + 2L * i, ByteOrder.LITTLE_ENDIAN);
            IntVector v = (IntVector) s.convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
            v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, off + i);
        }
        for (; i < count; i++) {
            dst[off + i] = bf16ToFloat(src.get(SHORT, base + 2L * i));
        }
    }

    private static void bf16ToF32Segment(MemorySegment src, MemorySegment dst, long count) {
        long i = 0;
        int lanes = I.length();
        long upper = count - (count % lanes);
        for (; i < upper; i += lanes) {
            ShortVector s = ShortVector.fromMemorySegment(S, src, 2L * i, ByteOrder.LITTLE_ENDIAN);
            IntVector v = (IntVector) s.convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
            v.lanewise(VectorOperators.LSHL, 16).intoMemorySegment(dst, 4L * i, ByteOrder.LITTLE_ENDIAN);
        }
        for (; i < count; i++) {
            dst.set(FLOAT, 4L * i, bf16ToFloat(src.get(SHORT, 2L * i)));
        }
    }

    private static void floatToBf16(float[] src, int off, int count, MemorySegment dst, long dstByte) {
        int i = 0;
        int lanes = I.length();
        int upper = count - (count % lanes);
        for (; i < upper; i += lanes) {
            IntVector b = FloatVector.fromArray(F, src, off + i).reinterpretAsInts();
            IntVector rounded = b.add(0x7fff).add(b.lanewise(VectorOperators.LSHR, 16).and(1)).lanewise(VectorOperators.LSHR, 16);
            var nan = b.and(0x7fffffff).compare(VectorOperators.GT, 0x7f800000);
            IntVector quiet = b.lanewise(VectorOperators.LSHR, 16).or(0x40);
            IntVector r = rounded.blend(quiet, nan);
            ShortVector s = (ShortVector) r.convertShape(VectorOperators.I2S, S, 0);
            s.intoMemorySegment(dst, dstByte + 2L * i, ByteOrder.LITTLE_ENDIAN);
        }
        for (; i < count; i++) {
            dst.set(SHORT, dstByte + 2L * i, floatToBf16(src[off + i]));
        }
    }

    /** Builds the decode table of an 8-bit float with the given exponent/mantissa bits (OCP FP8 conventions). */
    private static float[] table(int expBits, int manBits, int bias, boolean finiteOnly) {
        float[] t = new float[256];
        for (int b = 0; b < 256; b++) {
            int sign = (b >> 7) & 1;
            int exp = (b >> manBits) & ((1 << expBits) - 1);
            int man = b & ((1 << manBits) - 1);
            int maxExp = (1 << expBits) - 1;
            float v;
            if (finiteOnly && exp == maxExp && man == (1 << manBits) - 1) {
                v = Float.NaN; // E4M3FN: only S.1111.111 is NaN, no infinities
            } else if (!finiteOnly && exp == maxExp) {
                v = man == 0 ? Float.POSITIVE_INFINITY : Float.NaN;
            } else if (exp == 0) {
                v = (float) (man / (double) (1 << manBits) * Math.pow(2, 1 - bias));
            } else {
                v = (float) ((1 + man / (double) (1 << manBits)) * Math.pow(2, exp - bias));
            }
            t[b] = sign == 1 ? -v : v;
        }
        return t;
    }
}
