package dev.moekit.quantize.alloc;

/**
 * QuantMoE-Bench's linear-weight outlier score (code {@code dump-mixtral-outlier-metric.py}): for W [out, in],
 * {@code max over input columns j of ( max_i |W_ij| / mean_i |W_ij| )}. A column whose largest weight stands far
 * above its mean magnitude is hard to quantize; high-scoring linears get more bits.
 */
final class OutlierScore {
    private OutlierScore() {
    }

    static double of(float[] w, int rows, int cols) {
        double[] max = new double[cols];
        double[] sum = new double[cols];
        for (int i = 0; i < rows; i++) {
            int base = i * cols;
            for (int j = 0; j < cols; j++) {
                double a = Math.abs(w[base + j]);
                sum[j] += a;
                if (a > max[j]) {
                    max[j] = a;
                }
            }
        }
        double best = 0;
        for (int j = 0; j < cols; j++) {
            if (sum[j] > 0) {
                best = Math.max(best, max[j] / (sum[j] / rows));
            }
        }
        return best;
    }
}
