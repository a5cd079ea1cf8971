package dev.moekit.quantize.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BitPackingTest {
    private static byte[] random(int n, int bits, long seed) {
        Random r = new Random(seed);
        byte[] v = new byte[n];
        for (int i = 0; i < n; i++) {
            v[i] = (byte) r.nextInt(1 << bits);
        }
        return v;
    }

    @Test
    void roundTripsEveryWidthLayoutAndDirection() {
        for (int bits = 2; bits <= 8; bits++) {
            for (boolean stream : new boolean[] {false, true}) {
                int outer = stream ? 64 : 37; // word-aligned packing pads odd lengths
                int inner = stream ? 96 : 29;
                byte[] v = random(outer * inner, bits, bits);
                for (boolean alongOuter : new boolean[] {false, true}) {
                    int[] p = BitPacking.pack(v, outer, inner, bits, alongOuter, stream);
                    assertArrayEquals(v, BitPacking.unpack(p, outer, inner, bits, alongOuter, stream), bits + " bits stream=" + stream);
                }
            }
        }
    }

    @Test
    void wordAlignedLayoutMatchesPackToInt32() {
        // compressed-tensors docstring example: 8-bit signed [1, 2] -> unsigned [129, 130] -> 33409
        byte[] v = {(byte) 129, (byte) 130};
        assertArrayEquals(new int[] {33409}, BitPacking.pack(v, 1, 2, 8, false, false));
        // 3 bits: ten values per word, two bits unused
        byte[] eleven = new byte[11];
        eleven[9] = 7;
        eleven[10] = 1;
        int[] p = BitPacking.pack(eleven, 1, 11, 3, false, false);
        assertEquals(2, p.length);
        assertEquals(7 << 27, p[0]);
        assertEquals(1, p[1]);
    }

    @Test
    void bitStreamMatchesAutoGptqThreeBitScheme() {
        // AutoGPTQ: value 10 puts its low 2 bits at bits 30-31 of word 0 and its high bit at bit 0 of word 1;
        // value 21 puts its low bit at bit 31 of word 1 and its high 2 bits at bits 0-1 of word 2
        byte[] v = new byte[32];
        v[10] = 0b101;
        v[21] = 0b110;
        v[31] = 0b111;
        int[] p = BitPacking.pack(v, 32, 1, 3, true, true);
        assertEquals(1 << 30, p[0]);
        assertEquals(1, p[1] & 1);
        assertEquals(0, (p[1] >>> 31) & 1);
        assertEquals(0b11, p[2] & 0b11);
        assertEquals(0b111, p[2] >>> 29);
        assertThrows(IllegalArgumentException.class, () -> BitPacking.pack(new byte[31], 31, 1, 3, true, true));
    }

    /**
     * The in-place packer (vector nibble folding for 4 bits, two longs per word for 2, whole ints for 8, scalar for 3 and
     * for padded tails) writes exactly {@link BitPacking#pack}'s words, little-endian, in both orientations; the
     * reference here is the one-value-at-a-time bit position formula, independent of both.
     */
    @Test
    void packsRowsIntoNativeMemoryAsTheReferenceFormula() {
        for (int bits : new int[] {2, 3, 4, 8}) {
            for (int inner : new int[] {1, 7, 29, 64, 96, 128, 200, 4096 + 32}) {
                int outer = 37;
                byte[] v = random(outer * inner, bits, 31L * bits + inner);
                int pf = 32 / bits;
                int words = (inner + pf - 1) / pf;
                int[] want = new int[outer * words];
                for (int r = 0; r < outer; r++) {
                    for (int k = 0; k < inner; k++) {
                        want[r * words + k / pf] |= (v[r * inner + k] & 0xff) << (bits * (k % pf));
                    }
                }
                assertArrayEquals(want, BitPacking.pack(v, outer, inner, bits, false, false), bits + " bits, inner " + inner);
                assertArrayEquals(v, BitPacking.unpack(want, outer, inner, bits, false, false), "unpacked, " + bits + " bits, inner " + inner);
                for (boolean transpose : new boolean[] {false, true}) {
                    try (Arena a = Arena.ofShared()) {
                        MemorySegment dst = a.allocate(4L * want.length);
                        dst.fill((byte) 0x5a); // the packer must overwrite every byte
                        BitPacking.packRowsInto(v, outer, inner, bits, false, transpose, dst);
                        for (int r = 0; r < outer; r++) {
                            for (int w = 0; w < words; w++) {
                                int at = transpose ? w * outer + r : r * words + w;
                                assertEquals(want[r * words + w], dst.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), at),
                                        bits + " bits, inner " + inner + ", row " + r + ", word " + w + (transpose ? ", transposed" : ""));
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void inPlacePackerRefusesStraddlingStreamsAndWrongSizes() {
        try (Arena a = Arena.ofShared()) {
            assertThrows(IllegalArgumentException.class, () -> BitPacking.packRowsInto(new byte[64], 2, 32, 3, true, true, a.allocate(24)));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> BitPacking.packRowsInto(new byte[64], 2, 32, 4, false, false, a.allocate(20)));
            assertEquals("packed tensor needs 32 bytes, buffer has 20", e.getMessage());
        }
    }
}
