package dev.moekit.quantize;

import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.MemorySegment;

/**
 * A quantized linear weight {@code W [rows, cols]} (HF convention {@code [out, in]}): unsigned integer codes, one
 * scale and zero point per row and group, and an optional column-to-group map ({@code g_idx}, from activation order).
 * The weight it stands for is {@code W[i][j] = scales[i][g(j)] * (codes[i][j] - zeros[i][g(j)])}, computed in fp32,
 * with {@code g(j) = gIdx[j]} or {@code j / groupWidth}. Packers and the reader use exactly this formula, so a packed
 * checkpoint dequantizes to the same fp32 values as the fake-quant one.
 *
 * @param rows   output channels
 * @param cols   input channels
 * @param scheme bits, group size, symmetry
 * @param codes  [rows, cols], unsigned codes in 0..2^bits-1 (stored in a byte)
 * @param scales [rows, groups], already rounded to the storage dtype of the scales
 * @param zeros  [rows, groups], unsigned zero points in 0..2^bits-1
 * @param gIdx   [cols] group of each input column, or null for natural order ({@code j / groupWidth})
 * @param mins   [rows, groups] float minimum of each group where the scheme {@link QuantScheme#hasMins has mins} (then
 *               {@code W[i][j] = scale * code - min} and the zeros are unused), else null
 * @param codebook [groups, codebookSize, vectorDim] centroids of each tile where the scheme is a
 *               {@link QuantScheme#codebook codebook} scheme (then every weight of a vector holds the vector's code,
 *               {@code W[i][j] = scale[i][g] * codebook[g][code][j % vectorDim]}, the zeros are unused), else null
 */
public record QuantizedMatrix(int rows, int cols, QuantScheme scheme, byte[] codes, float[] scales, byte[] zeros,
                              int[] gIdx, float[] mins, float[] codebook) {
    public QuantizedMatrix {
        int groups = scheme.groups(cols);
        if (codes.length != (long) rows * cols || scales.length != (long) rows * groups || zeros.length != scales.length) {
            throw new IllegalArgumentException("quantized matrix arrays do not match " + rows + "x" + cols + " " + scheme);
        }
        if (gIdx != null && gIdx.length != cols) {
            throw new IllegalArgumentException("g_idx has " + gIdx.length + " entries, expected " + cols);
        }
        if ((mins != null) != scheme.hasMins() || mins != null && mins.length != scales.length) {
            throw new IllegalArgumentException(scheme + (scheme.hasMins() ? " needs one minimum per group" : " has no minimums"));
        }
        if (!scheme.fits(cols)) {
            throw new IllegalArgumentException(scheme + " needs rows of whole " + (scheme.codebook() ? scheme.vectorDim() + "-weight vectors"
                    : QuantScheme.SUPER_BLOCK + "-weight super-blocks") + ", got " + cols + " columns");
        }
        if ((codebook != null) != scheme.codebook()
                || codebook != null && (codebook.length != (long) groups * scheme.codebookSize() * scheme.vectorDim() || gIdx != null)) {
            throw new IllegalArgumentException(scheme + (scheme.codebook() ? " needs one codebook per tile in natural column order" : " has no codebook"));
        }
    }

    /** A matrix without a codebook (every scalar scheme). */
    public QuantizedMatrix(int rows, int cols, QuantScheme scheme, byte[] codes, float[] scales, byte[] zeros, int[] gIdx, float[] mins) {
        this(rows, cols, scheme, codes, scales, zeros, gIdx, mins, null);
    }

    /** A matrix whose groups have integer zero points (every scheme without {@link QuantScheme#hasMins mins}). */
    public QuantizedMatrix(int rows, int cols, QuantScheme scheme, byte[] codes, float[] scales, byte[] zeros, int[] gIdx) {
        this(rows, cols, scheme, codes, scales, zeros, gIdx, null);
    }

    /** Minimum of row {@code i}, group {@code g} (schemes with mins). */
    public float min(int i, int g) {
        return mins[i * groups() + g];
    }

    /** Index into {@link #codebook} of the centroid value weight {@code (i, j)} takes (codebook schemes). */
    public int codebookIndex(int i, int j) {
        int d = scheme.vectorDim();
        return ((j / scheme.groupWidth(cols)) * scheme.codebookSize() + code(i, j)) * d + j % d;
    }

    public int groups() {
        return scheme.groups(cols);
    }

    /** Group of input column {@code j}. */
    public int group(int j) {
        return gIdx != null ? gIdx[j] : j / scheme.groupWidth(cols);
    }

    public int code(int i, int j) {
        return codes[i * cols + j] & 0xff;
    }

    public int zero(int i, int g) {
        return zeros[i * groups() + g] & 0xff;
    }

    public float scale(int i, int g) {
        return scales[i * groups() + g];
    }

    /** The fp32 weight this stands for, [rows, cols]. */
    public float[] dequantize() {
        float[] w = new float[rows * cols];
        forRowBlocks((from, to) -> {
            for (int i = from; i < to; i++) {
                valuesInto(i, codes, w, i * cols);
            }
        });
        return w;
    }

    /**
     * The fp32 weight encoded as {@code to} into {@code dst} (exactly {@code rows * cols * to.size()} bytes), a row at a
     * time, rows in parallel: the same values as {@link #dequantize} without the [rows, cols] fp32 array.
     */
    public void encodeInto(MemorySegment dst, DType to) {
        long rowBytes = (long) cols * to.size();
        if (dst.byteSize() != rowBytes * rows) {
            throw new IllegalArgumentException(rows + "x" + cols + " weight as " + to + " needs " + rowBytes * rows + " bytes, got " + dst.byteSize());
        }
        forRowBlocks((from, end) -> {
            RowReader r = rowReader();
            for (int i = from; i < end; i++) {
                Floats.encode(r.row(i), 0, cols, to, dst, i * rowBytes);
            }
        });
    }

    /** A reader of single dequantized rows with its own scratch (one per thread). */
    public RowReader rowReader() {
        return new RowReader();
    }

    /** Dequantizes one row at a time into a buffer of its own, without the whole [rows, cols] array. */
    public final class RowReader {
        private final byte[] rowCodes = new byte[cols];
        private final float[] values = new float[cols];

        private RowReader() {
        }

        /** Row {@code i} of the fp32 weight: the same values as that row of {@link #dequantize}; the buffer is reused. */
        public float[] row(int i) {
            System.arraycopy(codes, i * cols, rowCodes, 0, cols);
            valuesInto(i, rowCodes, values, 0);
            return values;
        }
    }

    /** Row {@code i}'s values from its codes at {@code c[off...]} into {@code out[off...]}. */
    private void valuesInto(int i, byte[] c, float[] out, int off) {
        int groups = groups();
        if (gIdx == null) { // contiguous groups: one vector loop per group (codes and values at the same offsets)
            int gw = scheme.groupWidth(cols);
            for (int g = 0; g < groups; g++) {
                int k = i * groups + g;
                if (codebook != null) {
                    int d = scheme.vectorDim();
                    int base = g * scheme.codebookSize() * d;
                    for (int j = off + g * gw, end = off + Math.min(cols, (g + 1) * gw); j < end; j++) {
                        out[j] = scales[k] * codebook[base + (c[j] & 0xff) * d + (j - off) % d];
                    }
                } else if (mins != null) {
                    for (int j = off + g * gw, end = off + Math.min(cols, (g + 1) * gw); j < end; j++) {
                        out[j] = dequantMin(scales[k], c[j] & 0xff, mins[k]);
                    }
                } else {
                    Kernels.values(c, out, off + g * gw, Math.min(gw, cols - g * gw), scales[k], zeros[k] & 0xff);
                }
            }
            return;
        }
        for (int j = 0; j < cols; j++) {
            int k = i * groups + gIdx[j];
            out[off + j] = mins != null ? dequantMin(scales[k], c[off + j] & 0xff, mins[k]) : dequant(scales[k], c[off + j] & 0xff, zeros[k] & 0xff);
        }
    }

    /** A range of rows {@code [from, to)}. */
    @FunctionalInterface
    public interface RowBlock {
        void run(int from, int to);
    }

    /**
     * Runs {@code block} over all rows in blocks of about 256 KB of weights each, the blocks in parallel on the common
     * fork-join pool (so per-block scratch buffers are allocated once per block, not per row).
     */
    public void forRowBlocks(RowBlock block) {
        int per = Math.max(1, (1 << 16) / cols);
        int blocks = (rows + per - 1) / per;
        java.util.stream.IntStream.range(0, blocks).parallel().forEach(b -> block.run(b * per, Math.min(rows, (b + 1) * per)));
    }

    /** The single dequantization formula: {@code scale * (q - zero)} in fp32. */
    public static float dequant(float scale, int q, int zero) {
        return scale * (float) (q - zero);
    }

    /** The formula of groups with a minimum: {@code scale * q - min} in fp32 (GGUF's k-quants compute the same). */
    public static float dequantMin(float scale, int q, float min) {
        return scale * (float) q - min;
    }
}
