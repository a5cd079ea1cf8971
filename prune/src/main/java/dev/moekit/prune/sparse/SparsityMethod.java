package dev.moekit.prune.sparse;

/** How the per-layer sparsity is chosen. */
public enum SparsityMethod {
    /** One sparsity for every layer (Wanda). */
    WANDA,
    /** Outlier-weighed layerwise sparsity in [S - lambda, S + lambda] (OWL), then Wanda per layer. */
    OWL
}
