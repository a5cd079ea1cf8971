package dev.moekit.prune.expert.stun;

/**
 * Where STUN reads how much each expert is used: the weights of the usage-weighted centroid
 * ({@link Representative#NEAREST_TO_WEIGHTED_MEAN}), the first tie-break between members, and the usage the report
 * shows per cluster member.
 */
public enum Usage {
    /**
     * Gate mass from one routing pass over the calibration text: the sum over tokens of the gate value the model applies
     * to the expert (weighted frequency). The default: on experts trained from scratch it is what tells a busy expert
     * from a barely trained one. Without calibration statistics (a library call with none) router-row norms are used.
     */
    CALIBRATION,
    /** The router-row norm ||W_r[i]||_2: no calibration at all (the paper's zero-pass mode), a weak proxy for use. */
    ROUTER_NORM
}
