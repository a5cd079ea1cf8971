package dev.moekit.prune.expert;

/** What to do when a layer would keep fewer experts than the tokens route to (top-k). */
public enum TopKGuard {
    /** Refuse the settings with an error naming the layer (default). */
    ERROR,
    /** Keep at least top-k experts in every layer (the budget is then not met exactly; reported). */
    KEEP_TOP_K
}
