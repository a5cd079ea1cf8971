package dev.moekit.quantize.method;

import dev.moekit.quantize.Grid;
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
    public static QuantizedMatrix quantize(float[] w, int rows, int cols, QuantScheme s, DType scaleType, boolean clipSearch, float[] importance) {
        if (importance != null && importance.length != cols) {
            throw new IllegalArgumentException("importance has " + importance.length + " values, expected one per input column (" + cols + ")");
        }
        if (w.length != (long) rows * cols) {
            throw new IllegalArgumentException("weight has " + w.length + " values, expected " + rows + "x" + cols);
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

    private static void codeRange(float[] w, byte[] codes, int from, int len, Grid.Params p, int maxq) {
        Kernels.codes(w, codes, from, len, p.scale(), p.zero(), maxq);
    }
}
