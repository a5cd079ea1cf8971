package dev.moekit.prune.stats;

import java.util.Arrays;

/**
 * Routing statistics of one MoE layer over a calibration set, gathered with the family's exact routing (Mixtral:
 * softmax, top-k, renormalise; Qwen2-MoE/OLMoE: no renormalisation; DeepSeek-V3: sigmoid with correction bias).
 * Every expert criterion of the prune module reads one of these fields; build them with {@link #accumulator}.
 *
 * @param layer           decoder layer index
 * @param experts         routed experts E of the layer
 * @param topK            experts chosen per token k
 * @param tokens          calibration tokens seen
 * @param counts          [E] tokens whose top-k contains expert j (frequency)
 * @param coactivation    [E][E] tokens whose top-k contains both i and j (all pairs within the top-k; for k = 2
 *                        this is STUN's "top-2 set is exactly {i, j}"); symmetric, zero diagonal
 * @param gateSums        [E] sum of the gate values the model applies to expert j over its routed tokens
 *                        (weighted frequency / soft count)
 * @param outputNormSums  [E] sum over routed tokens of ||f_j(x)||_2, the expert output before gating (EAN);
 *                        null when expert outputs were not observed
 * @param reapSums        [E] sum over routed tokens of g~_j(x) * ||f_j(x)||_2 with g~ the top-k gates
 *                        renormalised to sum to one (REAP numerator); null when outputs were not observed
 */
public record RoutingStats(int layer, int experts, int topK, long tokens, long[] counts, long[][] coactivation,
                           double[] gateSums, double[] outputNormSums, double[] reapSums) {
    public RoutingStats {
        if (experts < 1 || topK < 1 || topK > experts) {
            throw new IllegalArgumentException("layer " + layer + ": bad experts/topK " + experts + "/" + topK);
        }
        counts = checkLength(counts.clone(), experts, "counts", layer);
        gateSums = checkLength(gateSums.clone(), experts, "gateSums", layer);
        outputNormSums = outputNormSums == null ? null : checkLength(outputNormSums.clone(), experts, "outputNormSums", layer);
        reapSums = reapSums == null ? null : checkLength(reapSums.clone(), experts, "reapSums", layer);
        if (coactivation.length != experts) {
            throw new IllegalArgumentException("layer " + layer + ": coactivation has " + coactivation.length + " rows, expected " + experts);
        }
        long[][] c = new long[experts][];
        for (int i = 0; i < experts; i++) {
            c[i] = checkLength(coactivation[i].clone(), experts, "coactivation row", layer);
        }
        coactivation = c;
    }

    private static long[] checkLength(long[] a, int n, String what, int layer) {
        if (a.length != n) {
            throw new IllegalArgumentException("layer " + layer + ": " + what + " has length " + a.length + ", expected " + n);
        }
        return a;
    }

    private static double[] checkLength(double[] a, int n, String what, int layer) {
        if (a.length != n) {
            throw new IllegalArgumentException("layer " + layer + ": " + what + " has length " + a.length + ", expected " + n);
        }
        return a;
    }

    /** Whether expert output norms were observed (EAN and REAP need them). */
    public boolean hasOutputNorms() {
        return outputNormSums != null && reapSums != null;
    }

    @Override
    public long[] counts() {
        return counts.clone();
    }

    public long count(int expert) {
        return counts[expert];
    }

    public long coactivation(int i, int j) {
        return coactivation[i][j];
    }

    @Override
    public long[][] coactivation() {
        long[][] c = new long[experts][];
        for (int i = 0; i < experts; i++) {
            c[i] = coactivation[i].clone();
        }
        return c;
    }

    @Override
    public double[] gateSums() {
        return gateSums.clone();
    }

    @Override
    public double[] outputNormSums() {
        return outputNormSums == null ? null : outputNormSums.clone();
    }

    @Override
    public double[] reapSums() {
        return reapSums == null ? null : reapSums.clone();
    }

    /** Starts collecting statistics of one layer token by token. */
    public static Accumulator accumulator(int layer, int experts, int topK) {
        return new Accumulator(layer, experts, topK);
    }

    /** Token-by-token builder; not thread safe (use one per layer and thread, then {@link #merge}). */
    public static final class Accumulator {
        private final int layer;
        private final int experts;
        private final int topK;
        private long tokens;
        private final long[] counts;
        private final long[][] coact;
        private final double[] gates;
        private final double[] norms;
        private final double[] reap;
        private boolean sawNorms;
        private boolean missedNorms;

        Accumulator(int layer, int experts, int topK) {
            this.layer = layer;
            this.experts = experts;
            this.topK = topK;
            counts = new long[experts];
            coact = new long[experts][experts];
            gates = new double[experts];
            norms = new double[experts];
            reap = new double[experts];
        }

        /**
         * Adds one token routed to {@code chosen} (its top-k experts, distinct) with the gate values the model applies,
         * and, when observed, the norms ||f_j(x)||_2 of the chosen experts' outputs (null otherwise).
         */
        public Accumulator add(int[] chosen, double[] gate, double[] outputNorms) {
            if (chosen.length != topK || gate.length != topK || (outputNorms != null && outputNorms.length != topK)) {
                throw new IllegalArgumentException("layer " + layer + ": a token needs exactly " + topK + " experts, gates and norms");
            }
            tokens++;
            double gateTotal = 0;
            for (double g : gate) {
                gateTotal += g;
            }
            for (int a = 0; a < topK; a++) {
                int i = chosen[a];
                counts[i]++;
                gates[i] += gate[a];
                for (int b = 0; b < topK; b++) {
                    if (b != a) {
                        coact[i][chosen[b]]++;
                    }
                }
                if (outputNorms != null) {
                    norms[i] += outputNorms[a];
                    reap[i] += (gateTotal > 0 ? gate[a] / gateTotal : 0) * outputNorms[a];
                }
            }
            sawNorms |= outputNorms != null;
            missedNorms |= outputNorms == null;
            return this;
        }

        /** Adds the counts of another accumulator of the same layer. */
        public Accumulator merge(Accumulator o) {
            if (o.experts != experts || o.topK != topK || o.layer != layer) {
                throw new IllegalArgumentException("layer " + layer + ": cannot merge statistics of layer " + o.layer);
            }
            tokens += o.tokens;
            for (int i = 0; i < experts; i++) {
                counts[i] += o.counts[i];
                gates[i] += o.gates[i];
                norms[i] += o.norms[i];
                reap[i] += o.reap[i];
                for (int j = 0; j < experts; j++) {
                    coact[i][j] += o.coact[i][j];
                }
            }
            sawNorms |= o.sawNorms;
            missedNorms |= o.missedNorms;
            return this;
        }

        public RoutingStats build() {
            boolean withNorms = sawNorms && !missedNorms;
            return new RoutingStats(layer, experts, topK, tokens, counts, coact, gates,
                    withNorms ? norms : null, withNorms ? reap : null);
        }
    }

    @Override
    public String toString() {
        return "RoutingStats[layer=" + layer + ", experts=" + experts + ", tokens=" + tokens + ", counts=" + Arrays.toString(counts) + "]";
    }
}
