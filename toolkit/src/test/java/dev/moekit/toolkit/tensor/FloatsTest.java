package dev.moekit.toolkit.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.moekit.toolkit.io.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

class FloatsTest {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Reference round-to-nearest-even through double arithmetic, independent of the bit trick. */
    private static short refBf16(float f) {
        if (Float.isNaN(f)) {
            return (short) ((Float.floatToRawIntBits(f) >>> 16) | 0x40);
        }
        int b = Float.floatToRawIntBits(f);
        int hi = b >>> 16;
        float lo = Float.intBitsToFloat(hi << 16);
        float up = Float.intBitsToFloat((hi + 1) << 16);
        double dLo = Math.abs((double) f - lo);
        double dUp = Math.abs((double) up - f);
        if (Float.isInfinite(up) && !Float.isInfinite(f)) {
            dUp = Math.abs((double) Float.MAX_VALUE * 2 - f); // past the largest finite value rounds to inf only at half-way
        }
        if (dLo < dUp || (dLo == dUp && (hi & 1) == 0)) {
            return (short) hi;
        }
        return (short) (hi + 1);
    }

    @Test
    void bf16BothWaysBitExactOnAllPatterns() {
        int n = 1 << 16;
        MemorySegment src = MemorySegment.ofArray(new byte[2 * n + 1]).asSlice(1); // unaligned on purpose
        for (int i = 0; i < n; i++) {
            src.set(SHORT, 2L * i, (short) i);
        }
        float[] f = new float[n];
        Floats.decode(src, DType.BF16, f, 0, n);
        for (int i = 0; i < n; i++) {
            assertEquals(i << 16, Float.floatToRawIntBits(f[i]) & -1, "pattern " + i);
        }
        MemorySegment back = MemorySegment.ofArray(new byte[2 * n]);
        Floats.encode(f, 0, n, DType.BF16, back, 0);
        for (int i = 0; i < n; i++) {
            short want = Float.isNaN(f[i]) ? (short) (i | 0x40) : (short) i;
            assertEquals(want, back.get(SHORT, 2L * i), "pattern " + i);
        }
    }

    @Test
    void f32ToBf16RoundsToNearestEven() {
        Random r = new Random(7);
        int n = 100_003;
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = i % 5 == 0 ? Float.intBitsToFloat(r.nextInt()) : (float) (r.nextGaussian() * Math.pow(10, r.nextInt(20) - 10));
        }
        f[0] = Float.intBitsToFloat(0x3f808000); // exactly half-way, even below
        f[1] = Float.intBitsToFloat(0x3f818000); // exactly half-way, odd below
        f[2] = Float.intBitsToFloat(0x00000001); // subnormal
        f[3] = -0.0f;
        f[4] = Float.intBitsToFloat(0x7f7fffff); // rounds to infinity
        MemorySegment out = MemorySegment.ofArray(new byte[2 * n]);
        Floats.encode(f, 0, n, DType.BF16, out, 0);
        for (int i = 0; i < n; i++) {
            assertEquals(Floats.floatToBf16(f[i]), out.get(SHORT, 2L * i), "vector and scalar agree at " + i);
            if (!Float.isInfinite(f[i]) && i != 4) {
                assertEquals(refBf16(f[i]), out.get(SHORT, 2L * i), "value " + f[i]);
            }
        }
        assertEquals((short) 0x7f80, out.get(SHORT, 8));
    }

    @Test
    void fp16AndFp8Decode() {
        MemorySegment h = MemorySegment.ofArray(new byte[6]);
        h.set(SHORT, 0, (short) 0x3c00); // 1.0
        h.set(SHORT, 2, (short) 0xc000); // -2.0
        h.set(SHORT, 4, (short) 0x7bff); // 65504
        float[] f = Floats.decode(h, DType.F16);
        assertEquals(1.0f, f[0]);
        assertEquals(-2.0f, f[1]);
        assertEquals(65504f, f[2]);
        MemorySegment e4 = MemorySegment.ofArray(new byte[] {0x38, (byte) 0xb8, 0x7e, 0x7f, 0x01});
        float[] g = Floats.decode(e4, DType.F8_E4M3);
        assertEquals(1.0f, g[0]);
        assertEquals(-1.0f, g[1]);
        assertEquals(448f, g[2]);
        assertEquals(Float.NaN, g[3]);
        assertEquals((float) Math.pow(2, -9), g[4]);
        MemorySegment e5 = MemorySegment.ofArray(new byte[] {0x3c, 0x7b, 0x7c});
        float[] k = Floats.decode(e5, DType.F8_E5M2);
        assertEquals(1.0f, k[0]);
        assertEquals(57344f, k[1]);
        assertEquals(Float.POSITIVE_INFINITY, k[2]);
    }

    /**
     * bf16 to fp16 without fp32 equals the scalar path {@code Float.floatToFloat16} of the bf16 value for every one of
     * the 65536 bf16 patterns (zeros, bf16 subnormals, fp16 subnormals with ties to even, normals, overflow to
     * infinity, infinities, quiet and signalling NaNs), through the scalar method and through {@link Floats#convert}
     * (vector lanes, scalar tail, parallel chunks) at an unaligned offset.
     */
    @Test
    void bf16ToFp16MatchesTheScalarPathOnEveryPattern() {
        int n = 65536 * 33 + 5; // every pattern 33 times (more than one parallel chunk) and a tail off the vector length
        MemorySegment src = MemorySegment.ofArray(new byte[2 * n + 2]).asSlice(1); // odd address: unaligned loads
        for (int i = 0; i < n; i++) {
            src.set(SHORT, 2L * i, (short) (i * 40503)); // 40503 is odd: each run of 65536 is a permutation
        }
        MemorySegment dst = MemorySegment.ofArray(new byte[2 * n + 2]).asSlice(1);
        Floats.convert(src, DType.BF16, dst, DType.F16, n);
        for (int i = 0; i < n; i++) {
            short b = src.get(SHORT, 2L * i);
            short want = Float.floatToFloat16(Floats.bf16ToFloat(b));
            assertEquals(want, Floats.bf16ToF16(b), () -> "scalar, bf16 0x" + Integer.toHexString(b & 0xffff));
            assertEquals(want, dst.get(SHORT, 2L * i), () -> "convert, bf16 0x" + Integer.toHexString(b & 0xffff));
        }
        // named cases, so a wrong reference cannot hide them: overflow, fp16's smallest subnormal and a tie below it
        assertEquals((short) 0x7c00, Floats.bf16ToF16(Floats.floatToBf16(65536f)), "2^16 overflows to +inf");
        assertEquals((short) 0x7bf8, Floats.bf16ToF16(Floats.floatToBf16(65280f)), "bf16's largest below 2^16 fits");
        assertEquals((short) 0x0001, Floats.bf16ToF16(Floats.floatToBf16(0x1p-24f)), "smallest fp16 subnormal");
        assertEquals((short) 0x0000, Floats.bf16ToF16(Floats.floatToBf16(0x1p-25f)), "half of it ties to even zero");
        assertEquals((short) 0x0002, Floats.bf16ToF16(Floats.floatToBf16(0x1.8p-24f)), "1.5 units ties to even 2");
        assertEquals((short) 0xfc00, Floats.bf16ToF16(Floats.floatToBf16(Float.NEGATIVE_INFINITY)));
        assertEquals((short) 0x7e00, Floats.bf16ToF16((short) 0x7fc0), "quiet NaN");
        assertEquals((short) 0x7e08, Floats.bf16ToF16((short) 0x7f81), "signalling NaN: quieted, fraction kept");
    }

    /** The parallel decode into a given buffer equals the one-thread decode for every dtype, across chunk edges. */
    @Test
    void decodeIntoEqualsTheSequentialDecodeAcrossChunks() {
        int n = 2 * Floats.PARALLEL_CHUNK + 12345;
        Random r = new Random(7);
        byte[] bytes = new byte[n * 4];
        r.nextBytes(bytes);
        MemorySegment src = MemorySegment.ofArray(bytes);
        for (DType t : new DType[] {DType.BF16, DType.F16, DType.F32, DType.F8_E4M3}) {
            MemorySegment s = src.asSlice(0, (long) n * t.size());
            float[] want = new float[n];
            Floats.decode(s, t, want, 0, n);
            float[] got = new float[n];
            Floats.decodeInto(s, t, got);
            for (int i = 0; i < n; i++) {
                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), t + " element " + i);
            }
        }
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Floats.decodeInto(src, DType.BF16, new float[3]));
    }

    @Test
    void convertSegmentsAnySize() {
        int n = 70_001;
        float[] v = new float[n];
        Random r = new Random(3);
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        MemorySegment bf = Floats.encode(v, DType.BF16);
        MemorySegment f32 = MemorySegment.ofArray(new byte[4 * n]);
        Floats.convert(bf, DType.BF16, f32, DType.F32, n);
        MemorySegment f16 = MemorySegment.ofArray(new byte[2 * n]);
        Floats.convert(f32, DType.F32, f16, DType.F16, n);
        float[] back = Floats.decode(f16, DType.F16);
        for (int i = 0; i < n; i++) {
            float b = Floats.bf16ToFloat(bf.get(SHORT, 2L * i));
            assertEquals(b, f32.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4L * i));
            assertEquals(b, back[i], Math.abs(b) / 1000 + 1e-7);
        }
    }
}
