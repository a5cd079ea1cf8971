package dev.moekit.prune.expert.stun;

/**
 * What replaces a multi-member STUN cluster ("selective reconstruction", arXiv 2409.06211 §3).
 *
 * <p>The default is {@link #NEAREST_TO_MEAN}: the paper's first-order Taylor argument picks the member closest to the
 * centroid, it keeps an original expert (and router row) bit for bit, and the reference script does the same unless
 * its {@code merge_max_clusters} (default 0) is raised.
 */
public enum Representative {
    /** Keep the member whose flattened [w1, w2, w3] is nearest in L2 to the members' mean; keep its router row. */
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
            case NEAREST_TO_MEAN -> false;
            case AVERAGE -> true;
            case AVERAGE_SMALL_CLUSTERS -> size <= param;
            case AVERAGE_FEW_CLUSTERS -> clusters <= param;
        };
    }
}
