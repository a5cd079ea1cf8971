package dev.moekit.prune.sparse;

/**
 * What to do with a routed expert (or any Linear) that received no calibration tokens, so has no Wanda statistics.
 * Every such Linear is listed in the report either way.
 */
public enum EmptyExpertPolicy {
    /** Leave it dense, as STUN's Wanda/OWL code does ("NO SAMPLES ... CONTINUING"); lowers the achieved sparsity. */
    SKIP_DENSE,
    /** Prune it by weight magnitude |W_ij| at the layer's sparsity instead. */
    MAGNITUDE
}
