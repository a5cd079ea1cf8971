package dev.moekit.prune.expert.stun;

/** How STUN scales co-activation counts C_ij before they become a distance ({@code coactivation}, {@code mixed}). */
public enum CoactivationNorm {
    /**
     * a_ij = C_ij / min(n_i, n_j), n the routed-token counts: the share of the rarer expert's tokens that also went to
     * the other, in [0, 1] (0 when either was never routed). Default: raw counts are largest for the busiest pairs, so
     * dividing by their mean clusters (and then removes) the most used experts.
     */
    MIN_COUNT,
    /** C_ij / mean|C| over all E x E entries, as the reference's {@code --divide_mean}; {@code mixed} adds the raw cdist. */
    MEAN
}
