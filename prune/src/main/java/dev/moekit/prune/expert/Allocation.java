package dev.moekit.prune.expert;

/** How the expert budget is spread over layers. */
public enum Allocation {
    /**
     * The same kept count in every MoE layer. Default: stock Hugging Face and vLLM model classes read one integer
     * expert count from the config, so only this output loads without custom code.
     */
    UNIFORM,
    /**
     * STUN's one global threshold: layers keep different counts and the config's expert count becomes a per-layer
     * list, which needs modeling code that reads {@code num_local_experts[layer_idx]} (STUN ships such files).
     */
    GLOBAL
}
