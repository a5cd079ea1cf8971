package dev.moekit.quantize.format;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Integer packing into int32 words, the two layouts the exported formats use.
 *
 * <ul>
 *   <li><b>Word-aligned</b> (compressed-tensors {@code pack_to_int32}): {@code 32 / bits} values per word, value
 *       {@code i} of a word at bits {@code [bits*i, bits*i+bits)}, the tail padded with zeros; for 3 bits that is ten
 *       values per word and two unused bits.</li>
 *   <li><b>Bit stream</b> (AutoGPTQ {@code QuantLinear.pack}): values laid end to end, value {@code k} at stream bit
 *       {@code bits*k}, words little-endian in the stream; for 2/4/8 bits this equals the word-aligned layout, for 3
 *       bits it is AutoGPTQ's 32-values-in-3-words scheme (a value may straddle two words).</li>
 * </ul>
 * Both pack along one dimension of a row-major [outer, inner] matrix: along the inner dimension ({@code alongRows =
 * false}: each row packs its own values) or along the outer one ({@code alongRows = true}: each column of words packs
 * consecutive rows).
 */
final class BitPacking {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INTS = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED;
    /** Ints for as many lanes as {@link #B} has longs. */
    private static final VectorSpecies<Integer> W = VectorSpecies.of(int.class, VectorShape.forBitSize(Math.max(64, B.vectorBitSize() / 2)));
    private static final boolean VECTOR = B.vectorBitSize() >= 128 && W.length() == B.vectorBitSize() / 64;

    private BitPacking() {
    }

    /** Words needed for {@code n} values, word-aligned. */
    static int alignedWords(int n, int bits) {
        int pf = 32 / bits;
        return (n + pf - 1) / pf;
    }

    /** Words needed for {@code n} values as a bit stream; {@code n * bits} must be a multiple of 32. */
    static int streamWords(int n, int bits, String what) {
        if ((long) n * bits % 32 != 0) {
            throw new IllegalArgumentException(what + ": " + n + " values of " + bits + " bits do not fill whole int32 words");
        }
        return n * bits / 32;
    }

    /** Bit position of value {@code k} along the packed dimension. */
    private static long position(int k, int bits, boolean stream) {
        return stream ? (long) bits * k : (long) (k / (32 / bits)) * 32 + (long) (k % (32 / bits)) * bits;
    }

    /**
     * Packs {@code v} [outer, inner] (unsigned values below {@code 2^bits}) along the inner dimension
     * ({@code alongOuter = false}, result [outer, words]) or the outer one (result [words, inner]).
     */
    static int[] pack(byte[] v, int outer, int inner, int bits, boolean alongOuter, boolean stream) {
        int n = alongOuter ? outer : inner;
        int words = stream ? streamWords(n, bits, "bit stream") : alignedWords(n, bits);
        int lanes = alongOuter ? inner : outer;
        int[] out = new int[words * lanes];
        if (!alongOuter && (!stream || 32 % bits == 0)) { // whole values per word along rows: the hot path
            packRows(v, outer, inner, bits, words, out);
            return out;
        }
        for (int lane = 0; lane < lanes; lane++) {
            for (int k = 0; k < n; k++) {
                int value = v[alongOuter ? k * inner + lane : lane * inner + k] & 0xff;
                put(out, value, position(k, bits, stream), bits, lane, lanes, words, alongOuter);
            }
        }
        return out;
    }

    private static void packRows(byte[] v, int outer, int inner, int bits, int words, int[] out) {
        java.util.stream.IntStream.range(0, outer).parallel().forEach(r -> rowWords(v, r * inner, inner, bits, out, r * words));
    }

    /** Whether {@link #packRowsInto} handles the layout: whole values per word along the rows. */
    static boolean packsRowsInto(int bits, boolean stream) {
        return !stream || 32 % bits == 0;
    }

    /**
     * {@link #pack} along the inner dimension ({@code alongOuter = false}), written straight into {@code dst} as
     * little-endian int32: [outer, words], or [words, outer] with {@code transpose} (GPTQ's qweight). The same words as
     * {@link #pack}; rows are packed in parallel blocks. Only for layouts {@link #packsRowsInto} accepts.
     */
    static void packRowsInto(byte[] v, int outer, int inner, int bits, boolean stream, boolean transpose, MemorySegment dst) {
        if (!packsRowsInto(bits, stream)) {
            throw new IllegalArgumentException(bits + "-bit values do not fill whole int32 words in a bit stream");
        }
        int words = alignedWords(inner, bits); // equals streamWords for widths dividing 32
        if (stream) {
            streamWords(inner, bits, "bit stream");
        }
        if (dst.byteSize() != 4L * words * outer) {
            throw new IllegalArgumentException("packed tensor needs " + 4L * words * outer + " bytes, buffer has " + dst.byteSize());
        }
        int per = Math.max(1, Math.min(outer, (1 << 14) / Math.max(1, words))); // rows per block: about 64 KB of words
        int blocks = (outer + per - 1) / per;
        java.util.stream.IntStream.range(0, blocks).parallel().forEach(b -> {
            int from = b * per;
            int to = Math.min(outer, from + per);
            int[] buf = new int[(to - from) * words];
            for (int r = from; r < to; r++) {
                rowWords(v, r * inner, inner, bits, buf, (r - from) * words);
            }
            if (!transpose) {
                MemorySegment.copy(buf, 0, dst, I32, 4L * from * words, buf.length);
                return;
            }
            for (int w = 0; w < words; w++) {
                long at = ((long) w * outer + from) * 4;
                for (int r = from; r < to; r++, at += 4) {
                    dst.set(I32, at, buf[(r - from) * words + w]);
                }
            }
        });
    }

    /** The words of one row of {@code inner} values at {@code v[base...]} into {@code out[off...]}. */
    private static void rowWords(byte[] v, int base, int inner, int bits, int[] out, int off) {
        int pf = 32 / bits;
        int full = inner / pf; // words without padding
        int w = switch (bits) {
            case 8 -> {
                for (int k = 0; k < full; k++) {
                    out[off + k] = (int) INTS.get(v, base + 4 * k);
                }
                yield full;
            }
            case 4 -> nibbleWords(v, base, full, out, off);
            case 2 -> {
                for (int k = 0; k < full; k++) {
                    out[off + k] = crumbs((long) LONGS.get(v, base + 16 * k)) | crumbs((long) LONGS.get(v, base + 16 * k + 8)) << 16;
                }
                yield full;
            }
            default -> 0;
        };
        for (; w * pf < inner; w++) { // the rest, and the padded last word: one value at a time
            int word = 0;
            int first = w * pf;
            int n = Math.min(pf, inner - first);
            for (int i = 0; i < n; i++) {
                word |= (v[base + first + i] & 0xff) << (bits * i);
            }
            out[off + w] = word;
        }
    }

    /**
     * 4-bit words: eight bytes (one value each, little-endian in a long) folded into one int by three shift-or-mask
     * steps; eight words at a time with the Vector API where it has 512-bit lanes. Returns the words done.
     */
    private static int nibbleWords(byte[] v, int base, int full, int[] out, int off) {
        int k = 0;
        if (VECTOR) {
            int lanes = W.length();
            for (int upper = full - full % lanes; k < upper; k += lanes) {
                LongVector x = ByteVector.fromArray(B, v, base + 8 * k).reinterpretAsLongs();
                x = x.or(x.lanewise(VectorOperators.LSHR, 4)).and(0x00FF00FF00FF00FFL);
                x = x.or(x.lanewise(VectorOperators.LSHR, 8)).and(0x0000FFFF0000FFFFL);
                x = x.or(x.lanewise(VectorOperators.LSHR, 16)).and(0x00000000FFFFFFFFL);
                x.convertShape(VectorOperators.L2I, W, 0).reinterpretAsInts().intoArray(out, off + k);
            }
        }
        for (; k < full; k++) {
            long x = (long) LONGS.get(v, base + 8 * k);
            x = (x | (x >>> 4)) & 0x00FF00FF00FF00FFL;
            x = (x | (x >>> 8)) & 0x0000FFFF0000FFFFL;
            out[off + k] = (int) (x | (x >>> 16));
        }
        return full;
    }

    /** Eight 2-bit values, one per byte of {@code x} (little-endian), as 16 bits. */
    private static int crumbs(long x) {
        x = (x | (x >>> 6)) & 0x000F000F000F000FL;
        x = (x | (x >>> 12)) & 0x000000FF000000FFL;
        return (int) ((x | (x >>> 24)) & 0xFFFF);
    }

    /** Inverse of {@link #pack}: the [outer, inner] values. */
    static byte[] unpack(int[] packed, int outer, int inner, int bits, boolean alongOuter, boolean stream) {
        int n = alongOuter ? outer : inner;
        int words = stream ? streamWords(n, bits, "bit stream") : alignedWords(n, bits);
        int lanes = alongOuter ? inner : outer;
        if (packed.length != words * lanes) {
            throw new IllegalArgumentException("packed tensor has " + packed.length + " words, expected " + words * lanes);
        }
        byte[] v = new byte[outer * inner];
        if (!alongOuter && (!stream || 32 % bits == 0)) {
            java.util.stream.IntStream.range(0, outer).parallel().forEach(r -> rowValues(packed, r * words, inner, bits, v, r * inner));
            return v;
        }
        for (int lane = 0; lane < lanes; lane++) {
            for (int k = 0; k < n; k++) {
                int value = get(packed, position(k, bits, stream), bits, lane, lanes, words, alongOuter);
                v[alongOuter ? k * inner + lane : lane * inner + k] = (byte) value;
            }
        }
        return v;
    }

    /** Inverse of {@link #rowWords}: the {@code inner} values of one row's words at {@code packed[off...]}. */
    private static void rowValues(int[] packed, int off, int inner, int bits, byte[] v, int base) {
        int pf = 32 / bits;
        int full = inner / pf;
        int k = 0;
        if (bits == 4) { // a word spread back to eight bytes: the folding steps of nibbleWords undone
            for (; k < full; k++) {
                long x = packed[off + k] & 0xffffffffL;
                x = (x | (x << 16)) & 0x0000FFFF0000FFFFL;
                x = (x | (x << 8)) & 0x00FF00FF00FF00FFL;
                x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FL;
                LONGS.set(v, base + 8 * k, x);
            }
        } else if (bits == 8) {
            for (; k < full; k++) {
                INTS.set(v, base + 4 * k, packed[off + k]);
            }
        }
        int mask = (1 << bits) - 1;
        for (int j = k * pf; j < inner; j++) {
            v[base + j] = (byte) ((packed[off + j / pf] >>> (bits * (j % pf))) & mask);
        }
    }

    private static int index(int word, int lane, int lanes, int words, boolean alongOuter) {
        return alongOuter ? word * lanes + lane : lane * words + word;
    }

    private static void put(int[] out, int value, long pos, int bits, int lane, int lanes, int words, boolean alongOuter) {
        int word = (int) (pos >>> 5);
        int shift = (int) (pos & 31);
        out[index(word, lane, lanes, words, alongOuter)] |= value << shift;
        if (shift + bits > 32) {
            out[index(word + 1, lane, lanes, words, alongOuter)] |= value >>> (32 - shift);
        }
    }

    private static int get(int[] in, long pos, int bits, int lane, int lanes, int words, boolean alongOuter) {
        int word = (int) (pos >>> 5);
        int shift = (int) (pos & 31);
        long bitsOut = (in[index(word, lane, lanes, words, alongOuter)] & 0xffffffffL) >>> shift;
        if (shift + bits > 32) {
            bitsOut |= (in[index(word + 1, lane, lanes, words, alongOuter)] & 0xffffffffL) << (32 - shift);
        }
        return (int) (bitsOut & ((1L << bits) - 1));
    }
}
