package dev.moekit.prune.expert.stun;

/**
 * What replaces a multi-member STUN cluster ("selective reconstruction", arXiv 2409.06211 §3).
 *
 * <p>The default is {@link #NEAREST_TO_WEIGHTED_MEAN}. The paper's first-order Taylor argument keeps the member closest
 * to the centroid, which is sound when members are near copies of each other (upcycled experts, cosine ~0.9). On
 * experts that are nearly orthogonal (trained from scratch) the member nearest the plain mean is simply the one with the
 * smallest weights, i.e. the barely trained, rarely routed one, and a two-member cluster keeps its lower index; weighting
 * the centroid by usage keeps the Taylor argument where it holds and keeps the used expert where it does not. The
 * reference rule stays available as {@link #NEAREST_TO_MEAN}. Both keep an original expert and its router row bit for bit.
 */
public enum Representative {
    /**
     * Keep the member nearest in L2 (flattened [w1, w2, w3]) to the usage-weighted mean sum_b u_b w_b / sum_b u_b (see
     * {@link Usage}); ties go to the more used member, then the higher REAP score (when calibrated), then the larger
     * weights, never simply the lower index. Keep its router row.
     */
    NEAREST_TO_WEIGHTED_MEAN,
    /**
     * The reference rule: the member nearest the members' plain mean; a two-member cluster keeps its lower index (both
     * are equidistant; the reference's argmin takes the first).
     */
    NEAREST_TO_MEAN,
    /** Replace every multi-member cluster by the mean of its members' weights, router rows and router biases. */
    AVERAGE,
    /** Average clusters of at most {@code param} members (the paper's kappa = 3), nearest-to-mean otherwise. */
    AVERAGE_SMALL_CLUSTERS,
    /**
     * Average every multi-member cluster of a layer that ends with at most {@code param} clusters (the released code's
     * {@code merge_max_clusters}), nearest-to-mean otherwise.
     */
    AVERAGE_FEW_CLUSTERS;

    /** Whether a cluster of {@code size} members in a layer of {@code clusters} clusters is averaged. */
    boolean averages(int size, int clusters, int param) {
        if (size < 2) {
            return false;
        }
        return switch (this) {
            case NEAREST_TO_WEIGHTED_MEAN, NEAREST_TO_MEAN -> false;
            case AVERAGE -> true;
            case AVERAGE_SMALL_CLUSTERS -> size <= param;
            case AVERAGE_FEW_CLUSTERS -> clusters <= param;
        };
    }

    /** Whether the choice reads expert usage (and so calibrates when usage comes from calibration). */
    boolean usesUsage() {
        return this == NEAREST_TO_WEIGHTED_MEAN;
    }
}
