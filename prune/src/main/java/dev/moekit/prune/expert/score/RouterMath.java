package dev.moekit.prune.expert.score;

import dev.moekit.toolkit.model.Routing;
import java.util.Arrays;

/**
 * A family's routing decision for one token, in fp64, with optional dropped experts (their logits are -inf, which is
 * the same as removing their router rows: the softmax renormalises over the rest).
 *
 * <ul>
 *   <li>SOFTMAX: p = softmax(logits); top-k by p (ties: lower index); gates = p of the chosen, divided by their sum
 *       when {@code renormalize} (Mixtral; Qwen2-MoE/OLMoE follow {@code norm_topk_prob}); times the scaling factor.
 *   <li>SIGMOID (DeepSeek-V3): s = sigmoid(logits); selection uses s + correction bias; with n groups, each group's
 *       score is the sum of its two best selection scores and only the best {@code topkGroups} groups compete; gates are
 *       s (without bias) of the chosen, renormalised when asked, times the scaling factor.
 *   <li>SPARSEMIXER (Phi-3.5-MoE) is not reproduced here: refused.
 * </ul>
 */
final class RouterMath {
    /** The chosen experts of one token (in descending score order) and their gate values. */
    record Route(int[] experts, double[] gates) {}

    private RouterMath() {}

    static Route route(double[] logits, Routing routing, double[] correctionBias, boolean[] dropped, int topK) {
        return switch (routing.scoring()) {
            case SOFTMAX -> softmax(logits, routing, dropped, topK);
            case SIGMOID -> sigmoid(logits, routing, correctionBias, dropped, topK);
            case SPARSEMIXER -> throw new IllegalArgumentException("sparsemixer routing (Phi-3.5-MoE) is not supported for calibration statistics or NAEE");
        };
    }

    private static Route softmax(double[] logits, Routing routing, boolean[] dropped, int topK) {
        int e = logits.length;
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < e; i++) {
            if (!isDropped(dropped, i)) {
                max = Math.max(max, logits[i]);
            }
        }
        double[] p = new double[e];
        double sum = 0;
        for (int i = 0; i < e; i++) {
            p[i] = isDropped(dropped, i) ? 0 : Math.exp(logits[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < e; i++) {
            p[i] /= sum;
        }
        int[] chosen = topK(p, dropped, topK);
        return gates(chosen, p, routing);
    }

    private static Route sigmoid(double[] logits, Routing routing, double[] bias, boolean[] dropped, int topK) {
        int e = logits.length;
        double[] s = new double[e];
        double[] sel = new double[e];
        for (int i = 0; i < e; i++) {
            s[i] = 1 / (1 + Math.exp(-logits[i]));
            sel[i] = s[i] + (routing.correctionBias() && bias != null ? bias[i] : 0);
        }
        boolean[] out = dropped == null ? new boolean[e] : dropped.clone();
        if (routing.groups() > 1) {
            limitGroups(sel, out, routing.groups(), routing.topkGroups());
        }
        return gates(topK(sel, out, topK), s, routing);
    }

    private static void limitGroups(double[] sel, boolean[] out, int groups, int keepGroups) {
        int per = sel.length / groups;
        double[] score = new double[groups];
        for (int g = 0; g < groups; g++) {
            double[] v = new double[per];
            for (int i = 0; i < per; i++) {
                v[i] = out[g * per + i] ? Double.NEGATIVE_INFINITY : sel[g * per + i];
            }
            Arrays.sort(v);
            score[g] = v[per - 1] + (per > 1 ? v[per - 2] : 0);
        }
        int[] keep = topK(score, null, keepGroups);
        boolean[] kept = new boolean[groups];
        for (int g : keep) {
            kept[g] = true;
        }
        for (int i = 0; i < sel.length; i++) {
            out[i] |= !kept[i / per];
        }
    }

    private static Route gates(int[] chosen, double[] p, Routing routing) {
        double[] g = new double[chosen.length];
        double sum = 0;
        for (int a = 0; a < chosen.length; a++) {
            g[a] = p[chosen[a]];
            sum += g[a];
        }
        for (int a = 0; a < g.length; a++) {
            if (routing.renormalize() && sum > 0) {
                g[a] /= sum;
            }
            g[a] *= routing.scalingFactor();
        }
        return new Route(chosen, g);
    }

    /** Indices of the k largest scores among those not excluded, descending, ties to the lower index. */
    static int[] topK(double[] score, boolean[] excluded, int k) {
        int[] out = new int[k];
        boolean[] taken = new boolean[score.length];
        for (int a = 0; a < k; a++) {
            int best = -1;
            for (int i = 0; i < score.length; i++) {
                if (!taken[i] && !isDropped(excluded, i) && (best < 0 || score[i] > score[best])) {
                    best = i;
                }
            }
            if (best < 0) {
                throw new IllegalArgumentException("fewer than " + k + " experts left to route to");
            }
            taken[best] = true;
            out[a] = best;
        }
        return out;
    }

    private static boolean isDropped(boolean[] dropped, int i) {
        return dropped != null && dropped[i];
    }
}
