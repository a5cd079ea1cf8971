package dev.moekit.toolkit.model;

import dev.moekit.toolkit.io.Checkpoint;

/**
 * Reads a model's weights by role as fp32, hiding the storage layout (per-expert tensors or fused 3-D expert tensors,
 * any floating dtype). Arrays are row-major with the HF linear convention {@code [out, in]}.
 */
public final class ModelWeights {
    private final Checkpoint checkpoint;
    private final ModelSpec spec;

    public ModelWeights(Checkpoint checkpoint, ModelSpec spec) {
        this.checkpoint = checkpoint;
        this.spec = spec;
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    public ModelSpec spec() {
        return spec;
    }

    /** Whether the checkpoint holds the per-layer tensor of {@code role} (biases, norms and gates are optional). */
    public boolean has(Role role, int layer) {
        throw new UnsupportedOperationException("not written yet");
    }

    /** A model-level tensor (embedding, final norm, lm_head; lm_head falls back to the embedding when tied). */
    public float[] get(Role role) {
        throw new UnsupportedOperationException("not written yet");
    }

    /** A per-layer tensor. */
    public float[] get(Role role, int layer) {
        throw new UnsupportedOperationException("not written yet");
    }

    /**
     * One routed expert's matrix: {@link Role#EXPERT_GATE} / {@link Role#EXPERT_UP} as {@code [ffn, hidden]},
     * {@link Role#EXPERT_DOWN} as {@code [hidden, ffn]}, whether stored per expert or fused.
     */
    public float[] expert(Role role, int layer, int expert) {
        throw new UnsupportedOperationException("not written yet");
    }
}
