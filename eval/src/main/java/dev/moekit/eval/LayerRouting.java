package dev.moekit.eval;

/**
 * How often each expert of one MoE layer was chosen over the real tokens evaluated (each token counts once per chosen
 * expert, so the counts sum to {@code tokens * top_k}).
 */
public record LayerRouting(int layer, long tokens, long[] counts) {
    public LayerRouting {
        counts = counts.clone();
    }

    /** Fraction of choices that went to expert {@code e}. */
    public double share(int e) {
        long total = 0;
        for (long c : counts) {
            total += c;
        }
        return total == 0 ? 0 : (double) counts[e] / total;
    }
}
