package dev.moekit.eval;

import java.util.Arrays;

/**
 * Summary of per-token KL divergences {@code KL(P_ref || Q) = sum_v p_v (log p_v - log q_v)}, as llama.cpp's
 * perplexity tool reports them. Percentiles interpolate linearly between order statistics.
 *
 * @param tokens number of scored positions
 */
public record KlStats(double mean, double median, double p90, double p99, double max, long tokens) {

    /** Statistics of {@code values} (sorted in place). */
    public static KlStats of(float[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("no KL values to summarise");
        }
        Arrays.sort(values);
        double sum = 0;
        for (float v : values) {
            sum += v;
        }
        return new KlStats(sum / values.length, quantile(values, 0.5), quantile(values, 0.9), quantile(values, 0.99),
                values[values.length - 1], values.length);
    }

    /** Linear interpolation at rank {@code q * (n - 1)} of sorted {@code v}. */
    static double quantile(float[] v, double q) {
        double r = q * (v.length - 1);
        int lo = (int) Math.floor(r);
        int hi = Math.min(lo + 1, v.length - 1);
        return v[lo] + (r - lo) * (v[hi] - v[lo]);
    }
}
