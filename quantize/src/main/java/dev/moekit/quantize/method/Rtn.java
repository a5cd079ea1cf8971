package dev.moekit.quantize.method;

import dev.moekit.quantize.Grid;
import dev.moekit.quantize.KGrid;
import dev.moekit.quantize.Kernels;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.quantize.QuantizedMatrix;
import dev.moekit.toolkit.io.DType;

/**
 * Round-to-nearest: every row and group gets the min-max grid of {@link QuantScheme} and each weight its nearest code.
 * Data-free; also GPTQ's fallback for experts without enough calibration tokens.
 */
public final class Rtn {
    private Rtn() {
    }

    /**
     * Quantizes {@code w} [rows, cols] (row-major, HF {@code [out, in]}).
     *
     * @param scaleType dtype the scales will be stored in (scales are rounded to it first)
     */
    public static QuantizedMatrix quantize(float[] w, int rows, int cols, QuantScheme s, DType scaleType) {
        return quantize(w, rows, cols, s, scaleType, false, null);
    }

    /**
     * As {@link #quantize(float[], int, int, QuantScheme, DType)}; with {@code clipSearch} every group's grid comes from
     * {@link Grid#search}, weighted by {@code importance} [cols] (per input column, e.g. llama.cpp's importance matrix
     * {@code E[x_j^2]}; null: unweighted).
     */
    public static QuantizedMatrix quantize(float[] w, int rows, int cols, QuantScheme scheme, DType scaleType, boolean clipSearch, float[] importance) {
        QuantScheme s = scheme.forCols(cols); // a k-quant on rows it does not fit: llama.cpp's fallback type
        if (importance != null && importance.length != cols) {
            throw new IllegalArgumentException("importance has " + importance.length + " values, expected one per input column (" + cols + ")");
        }
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException("weight has " + w.length + " values, expected " + rows + "x" + cols);
        }
        if (s.codebook()) { // codebooks are always fitted, weighted by the importance where given
            return dev.moekit.quantize.Codebooks.quantize(w, rows, cols, s, scaleType, importance);
        }
        if (s.quantizedScales()) {
            return kQuantize(w, rows, cols, s, clipSearch, importance);
        }
        int gw = s.groupWidth(cols);
        int groups = s.groups(cols);
        int maxq = s.maxq();
        byte[] codes = new byte[w.length];
        float[] scales = new float[rows * groups];
        byte[] zeros = new byte[rows * groups];
        // rows are independent: spread them over the cores
        java.util.stream.IntStream.range(0, rows).parallel().forEach(i -> {
            for (int g = 0; g < groups; g++) {
                int from = i * cols + g * gw;
                int len = Math.min(gw, cols - g * gw);
                Grid.Params p = clipSearch ? Grid.search(w, from, len, s, scaleType, importance, g * gw) : Grid.find(w, from, len, s, scaleType);
                scales[i * groups + g] = p.scale();
                zeros[i * groups + g] = (byte) p.zero();
                codeRange(w, codes, from, len, p, maxq);
            }
        });
        return new QuantizedMatrix(rows, cols, s, codes, scales, zeros, null);
    }

    /** A k-quant scheme: every super-block of every row gets {@link KGrid#find}'s grids. */
    private static QuantizedMatrix kQuantize(float[] w, int rows, int cols, QuantScheme s, boolean search, float[] importance) {
        if (!s.fits(cols)) {
            throw new IllegalArgumentException(s + " needs rows of whole " + QuantScheme.SUPER_BLOCK + "-weight super-blocks, got " + cols + " columns");
        }
        int gw = s.groupSize();
        int groups = s.groups(cols);
        int perSuper = QuantScheme.SUPER_BLOCK / gw;
        int maxq = s.maxq();
        byte[] codes = new byte[w.length];
        float[] scales = new float[rows * groups];
        byte[] zeros = new byte[rows * groups];
        float[] mins = s.hasMins() ? new float[rows * groups] : null;
        java.util.stream.IntStream.range(0, rows).parallel().forEach(i -> {
            for (int sb = 0; sb < cols / QuantScheme.SUPER_BLOCK; sb++) {
                int col0 = sb * QuantScheme.SUPER_BLOCK;
                KGrid.Block b = KGrid.find(w, i * cols + col0, s, importance, col0, search);
                for (int g = 0; g < perSuper; g++) {
                    int k = i * groups + sb * perSuper + g;
                    scales[k] = b.scales()[g];
                    zeros[k] = (byte) b.zeros()[g];
                    if (mins != null) {
                        mins[k] = b.mins()[g];
                    }
                }
                for (int j = 0; j < QuantScheme.SUPER_BLOCK; j++) {
                    int at = i * cols + col0 + j;
                    codes[at] = (byte) KGrid.code(w[at], b, j / gw, maxq);
                }
            }
        });
        return new QuantizedMatrix(rows, cols, s, codes, scales, zeros, null, mins);
    }

    private static void codeRange(float[] w, byte[] codes, int from, int len, Grid.Params p, int maxq) {
        Kernels.codes(w, codes, from, len, p.scale(), p.zero(), maxq);
    }
}
