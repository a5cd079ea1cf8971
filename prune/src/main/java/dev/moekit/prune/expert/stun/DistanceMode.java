package dev.moekit.prune.expert.stun;

/** How STUN measures the distance between two experts of a layer (arXiv 2409.06211, {@code merge_weight.py}). */
public enum DistanceMode {
    /** D_ij = ||W_r[i] - W_r[j]||_2 over router rows, divided by ||W_r||_F when asked (default). No calibration. */
    ROUTER_WEIGHT,
    /**
     * D_ij = -a_ij, a the co-activation counts normalised by {@link CoactivationNorm} (C / min(n_i, n_j) by default;
     * the README's Arctic command uses C / mean C). Needs calibration.
     */
    COACTIVATION,
    /**
     * Router distance minus lambda times co-activation. By default both terms are standardised over the pairs (mean 0,
     * standard deviation 1), so lambda = 1 weighs them equally: D = z(r) - lambda * z(a). With
     * {@link CoactivationNorm#MEAN} it is the reference's {@code --mix_weight}: raw cdist - lambda * C / mean C. Needs
     * calibration.
     */
    MIXED;

    public boolean needsCalibration() {
        return this != ROUTER_WEIGHT;
    }
}
