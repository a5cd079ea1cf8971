package dev.moekit.toolkit.model;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.io.Text;
import dev.moekit.toolkit.tensor.Floats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Reads a model's weights by role as fp32, hiding the storage layout (per-expert tensors or fused 3-D expert tensors,
 * any floating dtype). Arrays are row-major with the HF linear convention {@code [out, in]}.
 *
 * <p>Fused layout (transformers 5): {@code gate_up_proj} is {@code [E, 2*ffn, hidden]} with the gate rows first
 * ({@code gate, up = chunk(x @ W[e].T, 2)}), {@code down_proj} is {@code [E, hidden, ffn]}.
 */
public final class ModelWeights {
    private final Checkpoint checkpoint;
    private final ModelSpec spec;

    public ModelWeights(Checkpoint checkpoint, ModelSpec spec) {
        this.checkpoint = checkpoint;
        this.spec = spec;
    }

    /** Opens the spec of {@code checkpoint} and reads from it. */
    public static ModelWeights of(Checkpoint checkpoint) {
        return new ModelWeights(checkpoint, ModelSpec.of(checkpoint));
    }

    public Checkpoint checkpoint() {
        return checkpoint;
    }

    public ModelSpec spec() {
        return spec;
    }

    /** Whether the checkpoint holds the per-layer tensor of {@code role} (biases, norms and gates are optional). */
    public boolean has(Role role, int layer) {
        return spec.family().has(role) && checkpoint.has(spec.name(role, layer, 0));
    }

    /** Whether the checkpoint holds the model-level tensor of {@code role}. */
    public boolean has(Role role) {
        return spec.family().has(role) && checkpoint.has(spec.name(role));
    }

    /** A model-level tensor (embedding, final norm, lm_head; lm_head falls back to the embedding when tied). */
    public float[] get(Role role) {
        if (role.perLayer()) {
            throw new IllegalArgumentException("role " + role + " is per layer; pass a layer index");
        }
        if (role == Role.LM_HEAD && !has(Role.LM_HEAD)) {
            return checkpoint.floats(spec.name(Role.EMBED)); // [vocab, hidden], tied
        }
        return checkpoint.floats(spec.name(role));
    }

    /** A per-layer tensor. */
    public float[] get(Role role, int layer) {
        if (!role.perLayer() || role.perExpert()) {
            throw new IllegalArgumentException("role " + role + " is not a per-layer role; use get(Role) or expert()");
        }
        checkLayer(layer);
        return checkpoint.floats(spec.name(role, layer));
    }

    /**
     * One routed expert's matrix: {@link Role#EXPERT_GATE} / {@link Role#EXPERT_UP} as {@code [ffn, hidden]},
     * {@link Role#EXPERT_DOWN} as {@code [hidden, ffn]}, whether stored per expert or fused.
     */
    public float[] expert(Role role, int layer, int expert) {
        if (!role.perExpert()) {
            throw new IllegalArgumentException("role " + role + " is not a per-expert role (EXPERT_GATE/UP/DOWN)");
        }
        checkLayer(layer);
        LayerSpec ls = spec.layer(layer);
        if (!ls.moe() || expert < 0 || expert >= ls.experts()) {
            throw new IllegalArgumentException("layer " + layer + " has no routed expert " + expert + " (" + ls.experts() + " experts)");
        }
        if (!spec.fusedExperts()) {
            return checkpoint.floats(spec.name(role, layer, expert));
        }
        int ffn = ls.expertFfn();
        int hidden = spec.hidden();
        String name = spec.name(role == Role.EXPERT_DOWN ? Role.EXPERTS_DOWN : Role.EXPERTS_GATE_UP, layer);
        long perExpert = role == Role.EXPERT_DOWN ? (long) hidden * ffn : 2L * ffn * hidden;
        long offset = role == Role.EXPERT_UP ? (long) ffn * hidden : 0; // up rows follow the gate rows
        return slice(name, expert * perExpert + offset, ffn * hidden);
    }

    /** {@code count} elements from element {@code first} of a tensor, as fp32. */
    private float[] slice(String name, long first, int count) {
        TensorInfo t = checkpoint.info(name);
        if (first + count > t.numel()) {
            throw new CheckpointException(checkpoint.dir() + ": tensor " + Text.quote(name) + " of shape " + t.shapeString()
                    + " is too small for the spec");
        }
        float[] out = new float[count];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = checkpoint.map(name, a);
            Floats.decode(seg, first, t.dtype(), out, 0, count);
        }
        return out;
    }

    private void checkLayer(int layer) {
        if (layer < 0 || layer >= spec.layers()) {
            throw new IllegalArgumentException("layer " + layer + " out of range 0.." + (spec.layers() - 1));
        }
    }
}
