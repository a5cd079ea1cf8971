package dev.moekit.quantize.alloc;

import dev.moekit.quantize.BitAllocator;
import dev.moekit.quantize.LinearModule;
import dev.moekit.quantize.QuantScheme;
import dev.moekit.toolkit.method.Doc;
import dev.moekit.toolkit.model.Role;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Bit allocator {@code quantmoe}: the QuantMoE-Bench heuristics (Li et al., arXiv 2406.08155). Modules are "high"
 * ({@code high} bits) or "low" ({@code low}). High: attention ({@code attention_high}), shared experts and dense MLPs
 * ({@code shared_high}), every module of the first {@code first_blocks} layers, the {@code top_experts} most-used
 * experts of each layer (needs routing counts from calibration), and the top {@code outlier_fraction} of routed-expert
 * linears by outlier score {@code max_j(max_i |W_ij| / mean_i |W_ij|)} ({@link OutlierScore}). The defaults are the
 * paper's {@code main_2.attn_4}: attention and shared experts 4-bit, the rest 2-bit.
 */
public final class QuantMoeAllocator implements BitAllocator<QuantMoeAllocator.Parameters> {
    /**
     * @param high            bits of high modules
     * @param low             bits of the others
     * @param attentionHigh   attention is high
     * @param sharedHigh      shared experts and dense MLPs are high
     * @param firstBlocks     every module of the first k decoder layers is high
     * @param topExperts      the n most-used routed experts of each layer are high (routing counts needed)
     * @param outlierFraction the top fraction of routed-expert linears by outlier score are high
     */
    public record Parameters(@Doc("bits of the high modules: 2 to 8") Integer high,
                             @Doc("bits of the other modules: 2 to 8") Integer low,
                             @Doc("attention projections are high") Boolean attentionHigh,
                             @Doc("shared experts and dense MLPs are high") Boolean sharedHigh,
                             @Doc("every module of the first k decoder layers is high") Integer firstBlocks,
                             @Doc("the n most-used routed experts of each layer are high (needs routing counts)") Integer topExperts,
                             @Doc("this fraction of routed-expert linears, by outlier score, is high") Double outlierFraction) {
        public Parameters {
            high = high == null ? 4 : high;
            low = low == null ? 2 : low;
            attentionHigh = attentionHigh == null || attentionHigh;
            sharedHigh = sharedHigh == null || sharedHigh;
            firstBlocks = firstBlocks == null ? 0 : firstBlocks;
            topExperts = topExperts == null ? 0 : topExperts;
            outlierFraction = outlierFraction == null ? 0.0 : outlierFraction;
            for (int b : new int[] {high, low}) {
                QuantScheme.checkWidth("quantmoe", b, false);
            }
            if (firstBlocks < 0 || topExperts < 0 || !(outlierFraction >= 0 && outlierFraction <= 1)) {
                throw new IllegalArgumentException("quantmoe: first_blocks and top_experts must be >= 0 and outlier_fraction in [0, 1]");
            }
        }

        /** The paper's {@code main_2.attn_4}-style setting: attention and shared experts {@code high}, the rest {@code low}. */
        public static Parameters attentionAndShared(int high, int low) {
            return new Parameters(high, low, true, true, 0, 0, 0.0);
        }
    }

    @Override
    public String name() {
        return "quantmoe";
    }

    @Override
    public String summary() {
        return "QuantMoE-Bench heuristics: attention, shared experts, first blocks, busy or outlier experts high, the rest low";
    }

    @Override
    public String reference() {
        return "https://arxiv.org/abs/2406.08155";
    }

    @Override
    public Class<Parameters> parameters() {
        return Parameters.class;
    }

    @Override
    public Calibration calibration() {
        return Calibration.DEPENDS;
    }

    @Override
    public boolean needsCalibration(Parameters p) {
        return p.topExperts() > 0;
    }

    @Override
    public boolean readsWeights(Parameters p) {
        return p.outlierFraction() > 0;
    }

    @Override
    public List<Integer> widths(Parameters p, QuantScheme scheme) {
        return java.util.stream.Stream.of(p.low(), p.high()).sorted().distinct().toList();
    }

    @Override
    public Map<LinearModule, QuantScheme> allocate(Parameters q, Input in) {
        Map<LinearModule, Double> outlier = new HashMap<>();
        if (q.outlierFraction() > 0) {
            for (LinearModule m : in.free()) {
                if (m.role().kind() == Role.Kind.ROUTED_EXPERT) {
                    outlier.put(m, OutlierScore.of(in.weights().apply(m), m.rows(), m.cols()));
                }
            }
        }
        List<Double> scores = outlier.values().stream().sorted(Comparator.reverseOrder()).toList();
        int topCount = (int) Math.round(q.outlierFraction() * scores.size());
        double threshold = topCount == 0 ? Double.POSITIVE_INFINITY : scores.get(topCount - 1);
        if (q.topExperts() > 0 && in.usage().isEmpty()) {
            throw new IllegalArgumentException("the QuantMoE most-used-experts heuristic needs expert routing counts (calibration usage)");
        }
        Map<LinearModule, QuantScheme> out = new LinkedHashMap<>();
        for (LinearModule m : in.free()) {
            Role.Kind k = m.role().kind();
            boolean high = q.attentionHigh() && k == Role.Kind.ATTENTION
                    || q.sharedHigh() && (k == Role.Kind.SHARED_EXPERT || k == Role.Kind.DENSE_MLP)
                    || m.layer() >= 0 && m.layer() < q.firstBlocks()
                    || k == Role.Kind.ROUTED_EXPERT && q.topExperts() > 0 && topExpert(in, m, q.topExperts())
                    || outlier.getOrDefault(m, Double.NEGATIVE_INFINITY) >= threshold;
            out.put(m, in.scheme().withBits(high ? q.high() : q.low()));
        }
        return out;
    }

    private static boolean topExpert(Input in, LinearModule m, int top) {
        long[] t = in.usage().orElseThrow().tokens().get(m.layer());
        if (t == null) {
            return false;
        }
        long mine = t[m.expert()];
        int above = 0;
        for (int e = 0; e < t.length; e++) {
            if (t[e] > mine || t[e] == mine && e < m.expert()) {
                above++;
            }
        }
        return above < top;
    }
}
