package dev.moekit.quantize.format;

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
        int pf = 32 / bits;
        java.util.stream.IntStream.range(0, outer).parallel().forEach(r -> {
            int base = r * inner;
            for (int w = 0; w < words; w++) {
                int word = 0;
                int first = w * pf;
                int n = Math.min(pf, inner - first);
                for (int i = 0; i < n; i++) {
                    word |= (v[base + first + i] & 0xff) << (bits * i);
                }
                out[r * words + w] = word;
            }
        });
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
            int pf = 32 / bits;
            int mask = (1 << bits) - 1;
            java.util.stream.IntStream.range(0, outer).parallel().forEach(r -> {
                for (int k = 0; k < inner; k++) {
                    v[r * inner + k] = (byte) ((packed[r * words + k / pf] >>> (bits * (k % pf))) & mask);
                }
            });
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
