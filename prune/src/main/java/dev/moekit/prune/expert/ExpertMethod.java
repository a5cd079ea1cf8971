package dev.moekit.prune.expert;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Expert-pruning methods. STUN clusters experts (one representative per cluster); the others rank experts with a
 * named {@link ExpertScorer} (see {@link ExpertScorers}) and drop the lowest in every layer.
 */
public enum ExpertMethod {
    /** STUN stage 1: distance clustering with complete linkage and a threshold (arXiv 2409.06211). */
    STUN,
    /** Routed-token count per expert. */
    FREQUENCY,
    /** Sum over routed tokens of the applied gate value (soft count). */
    WEIGHTED_FREQUENCY,
    /** EAN: sum over routed tokens of ||f_j(x)||_2. */
    EAN,
    /** REAP: mean over routed tokens of renormalised gate x ||f_j(x)||_2 (arXiv 2510.13999); never routed = 0. */
    REAP,
    /** Uniformly random ranking from the seed (a control). */
    RANDOM,
    /** NAEE: exhaustive search for the kept set minimising ||Z - Z'||_F of the MoE block (arXiv 2402.14800). */
    NAEE;

    /** The registry key, e.g. {@code weighted_frequency}. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether the method reads calibration statistics (STUN depends on its distance mode). */
    public boolean needsCalibration() {
        return this != STUN && this != RANDOM;
    }

    public static ExpertMethod parse(String s) {
        for (ExpertMethod m : values()) {
            if (m.key().equals(s.toLowerCase(Locale.ROOT).replace('-', '_'))) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown expert-pruning method '" + s + "' (expected one of "
                + Arrays.stream(values()).map(ExpertMethod::key).collect(Collectors.joining(", ")) + ")");
    }
}
