package dev.moekit.quantize;

import java.util.Map;
import java.util.TreeMap;

/**
 * How many calibration tokens the router sent to each routed expert (top-k selections), per MoE layer. Input to the
 * QuantMoE-Bench usage heuristic (most-used experts get more bits) and to the budget solver's error weights.
 *
 * @param tokens layer -> tokens per expert
 */
public record ExpertUsage(Map<Integer, long[]> tokens) {
    public ExpertUsage {
        TreeMap<Integer, long[]> copy = new TreeMap<>();
        tokens.forEach((l, t) -> {
            for (long v : t) {
                if (v < 0) {
                    throw new IllegalArgumentException("expert token counts of layer " + l + " must be non-negative");
                }
            }
            copy.put(l, t.clone());
        });
        tokens = java.util.Collections.unmodifiableMap(copy);
    }

    /** Tokens routed to {@code expert} of {@code layer}; -1 when the layer is unknown. */
    public long tokens(int layer, int expert) {
        long[] t = tokens.get(layer);
        return t == null || expert >= t.length ? -1 : t[expert];
    }

    /** The share of the layer's routed tokens that {@code expert} received times the number of experts (1 = average). */
    public double relative(int layer, int expert) {
        long[] t = tokens.get(layer);
        if (t == null || expert >= t.length) {
            return 1.0;
        }
        long sum = 0;
        for (long v : t) {
            sum += v;
        }
        return sum == 0 ? 1.0 : (double) t[expert] * t.length / sum;
    }
}
