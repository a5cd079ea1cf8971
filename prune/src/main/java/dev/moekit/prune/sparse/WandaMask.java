package dev.moekit.prune.sparse;

import java.util.Arrays;

/**
 * Wanda masks (Sun et al., arXiv 2306.11695), applied in place to a weight W [out, in] (row-major, HF Linear layout).
 *
 * <p>Score S_ij = |W_ij| * s_j with s_j = ||X_j||_2 (the square root of Wanda's {@code scaler_row}); {@code scale}
 * null means s_j = 1, i.e. plain magnitude pruning. Unstructured: within each output row the floor(sparsity * in)
 * lowest scores are zeroed. N:M: within each row and each group of M consecutive input columns the N lowest are zeroed.
 * Ties go to the lower column index (a stable sort, as the reference's {@code torch.sort(..., stable=True)}).
 */
final class WandaMask {
    private WandaMask() {}

    /** Zeroes the lowest-scoring {@code floor(sparsity * in)} weights of each row; returns how many it zeroed. */
    static long pruneRows(float[] w, int out, int in, double[] scale, double sparsity) {
        check(w, out, in, scale);
        if (sparsity < 0 || sparsity > 1) {
            throw new IllegalArgumentException("sparsity must be in [0, 1], got " + sparsity);
        }
        int k = (int) (in * sparsity);
        if (k == 0) {
            return 0;
        }
        long[] keys = new long[in];
        for (int r = 0; r < out; r++) {
            int base = r * in;
            for (int j = 0; j < in; j++) {
                keys[j] = key(w[base + j], scale, j);
            }
            Arrays.sort(keys);
            for (int t = 0; t < k; t++) {
                w[base + (int) keys[t]] = 0f;
            }
        }
        return (long) k * out;
    }

    /** Zeroes the {@code n} lowest scores in every group of {@code m} consecutive inputs of each row. */
    static long pruneNm(float[] w, int out, int in, double[] scale, int n, int m) {
        check(w, out, in, scale);
        if (n < 0 || m < 1 || n > m || in % m != 0) {
            throw new IllegalArgumentException(n + ":" + m + " sparsity needs 0 <= n <= m and the input width " + in + " divisible by m");
        }
        long[] keys = new long[m];
        long zeroed = 0;
        for (int r = 0; r < out; r++) {
            for (int g = 0; g < in; g += m) {
                int base = r * in + g;
                for (int j = 0; j < m; j++) {
                    keys[j] = key(w[base + j], scale, g + j) - g;
                }
                Arrays.sort(keys);
                for (int t = 0; t < n; t++) {
                    w[base + (int) keys[t]] = 0f;
                    zeroed++;
                }
            }
        }
        return zeroed;
    }

    /** Score bits (non-negative floats order as their bit patterns) above, column index below. */
    private static long key(float weight, double[] scale, int j) {
        float s = (float) (Math.abs(weight) * (scale == null ? 1.0 : scale[j]));
        return ((long) Float.floatToIntBits(s) << 32) | j;
    }

    /** The score |W_ij| * s_j as Wanda computes it (fp32). */
    static float score(float weight, double[] scale, int j) {
        return (float) (Math.abs(weight) * (scale == null ? 1.0 : scale[j]));
    }

    private static void check(float[] w, int out, int in, double[] scale) {
        if ((long) out * in != w.length) {
            throw new IllegalArgumentException("weight has " + w.length + " values, expected " + out + " x " + in);
        }
        if (scale != null && scale.length != in) {
            throw new IllegalArgumentException("activation scale has " + scale.length + " channels, weight " + in);
        }
    }
}
