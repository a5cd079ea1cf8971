package dev.moekit.quantize;

import java.util.List;

/** How bits are chosen for modules no {@link BitRule} fixes. */
public sealed interface Allocation {
    /** Every module gets the default scheme's bits. */
    record Uniform() implements Allocation {}

    /**
     * Budget solver: reach an average of {@code averageBits} per quantized weight (scales, zero points and g_idx
     * included) at the least estimated output error; see {@link BudgetSolver}.
     *
     * @param averageBits target average storage bits per weight, e.g. 3.0 or 2.5
     * @param candidates  allowed bit widths, e.g. [2, 3, 4, 8]
     */
    record Budget(double averageBits, List<Integer> candidates) implements Allocation {
        public Budget {
            candidates = List.copyOf(candidates);
            if (candidates.isEmpty()) {
                throw new IllegalArgumentException("budget allocation needs at least one candidate bit width");
            }
            for (int b : candidates) {
                new QuantScheme(b, 0, true); // validates
            }
            if (!(averageBits > 0)) {
                throw new IllegalArgumentException("average bits must be positive, got " + averageBits);
            }
        }
    }

    /**
     * The QuantMoE-Bench heuristics (Li et al., arXiv 2406.08155): modules are "high" ({@code highBits}) or "low"
     * ({@code lowBits}). High: attention ({@code attentionHigh}), shared experts and dense MLPs ({@code sharedHigh}),
     * every module of the first {@code firstBlocks} layers, the {@code topExperts} most-used experts of each layer
     * (needs routing counts), and the top {@code outlierFraction} of routed-expert linears by outlier score
     * {@code max_j(max_i |W_ij| / mean_i |W_ij|)} ({@link OutlierScore}).
     */
    record QuantMoe(int highBits, int lowBits, boolean attentionHigh, boolean sharedHigh, int firstBlocks, int topExperts,
                    double outlierFraction) implements Allocation {
        public QuantMoe {
            new QuantScheme(highBits, 0, true);
            new QuantScheme(lowBits, 0, true);
            if (firstBlocks < 0 || topExperts < 0 || outlierFraction < 0 || outlierFraction > 1) {
                throw new IllegalArgumentException("QuantMoE heuristic: firstBlocks, topExperts >= 0 and outlierFraction in [0, 1]");
            }
        }

        /** The paper's {@code main_2.attn_4}-style default: attention and shared experts 4-bit, the rest 2-bit. */
        public static QuantMoe attentionAndShared(int high, int low) {
            return new QuantMoe(high, low, true, true, 0, 0, 0);
        }
    }
}
