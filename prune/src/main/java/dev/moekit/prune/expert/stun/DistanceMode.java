package dev.moekit.prune.expert.stun;

/** How STUN measures the distance between two experts of a layer (arXiv 2409.06211, {@code merge_weight.py}). */
public enum DistanceMode {
    /** D_ij = ||W_r[i] - W_r[j]||_2 over router rows, divided by ||W_r||_F when asked (default). No calibration. */
    ROUTER_WEIGHT,
    /** D_ij = -C_ij / mean|C|, C the co-activation counts (README's Arctic command). Needs calibration. */
    COACTIVATION,
    /** D = cdist(W_r) - lambda * C / mean|C| (raw cdist, as the reference's {@code --mix_weight}). Needs calibration. */
    MIXED;

    public boolean needsCalibration() {
        return this != ROUTER_WEIGHT;
    }
}
