package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.lang.foreign.Arena;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of one decoder layer as NDArrays of the compute dtype, owned by the layer's own manager so that
 * closing it frees them all (layer-at-a-time loading). Linear weights keep the HF layout {@code [out, in]}.
 * {@link #replace} swaps one weight for an edited one (pruning/quantization between calibration layers); the old
 * weight's off-heap copy is freed with the layer. Methods may add named parameters ({@link CausalLm#addParameter},
 * read back with {@link #extra}) that a {@link ForwardExtension} uses; {@link Trainable} swaps weights for fp32 masters
 * that take gradients.
 */
public final class LayerWeights implements AutoCloseable {
    private final int layer;
    private final LayerSpec layerSpec;
    private final NDManager manager;
    private final Arena arena;      // off-heap weight memory: wrapped by the arrays on CPU, freed with them
    private final WeightLoader loader;
    private final Map<Role, NDArray> tensors = new EnumMap<>(Role.class);
    /** Routed experts: per expert, gate [ffn, hidden], up [ffn, hidden], down [hidden, ffn]. */
    private final List<Map<Role, NDArray>> experts = new ArrayList<>();
    /** BAM's attention experts: per expert, q, o and (Expert-KV) k, v as {@link Role#Q}..{@link Role#O}. */
    private final List<Map<Role, NDArray>> attentionExperts = new ArrayList<>();
    /** Parameters a method added, by name, in the compute dtype. */
    private final Map<String, NDArray> extras = new LinkedHashMap<>();

    LayerWeights(NDManager parent, WeightLoader loader, int layer) {
        this.layer = layer;
        this.loader = loader;
        this.layerSpec = loader.spec().layer(layer);
        this.manager = parent.newSubManager();
        this.arena = Arena.ofShared();
        try {
            load(loader.spec());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private void load(ModelSpec spec) {
        for (Role role : Role.values()) {
            if (role.perLayer() && !role.indexed() && role.kind() != Role.Kind.ROUTED_EXPERT
                    && loader.has(role, layer)) {
                tensors.put(role, loader.layer(manager, arena, role, layer));
            }
        }
        for (int e = 0; e < layerSpec.experts(); e++) {
            Map<Role, NDArray> w = new EnumMap<>(Role.class);
            long[] up = {layerSpec.expertFfn(), spec.hidden()};
            w.put(Role.EXPERT_GATE, loader.expert(manager, arena, Role.EXPERT_GATE, layer, e, up));
            w.put(Role.EXPERT_UP, loader.expert(manager, arena, Role.EXPERT_UP, layer, e, up));
            w.put(Role.EXPERT_DOWN, loader.expert(manager, arena, Role.EXPERT_DOWN, layer, e,
                    new long[] {spec.hidden(), layerSpec.expertFfn()}));
            experts.add(w);
        }
        for (int a = 0; a < spec.attentionExperts(); a++) {
            Map<Role, NDArray> w = new EnumMap<>(Role.class);
            w.put(Role.Q, loader.attentionExpert(manager, arena, Role.ATTN_EXPERT_Q, layer, a));
            w.put(Role.O, loader.attentionExpert(manager, arena, Role.ATTN_EXPERT_O, layer, a));
            if (!spec.sharedKv()) {
                w.put(Role.K, loader.attentionExpert(manager, arena, Role.ATTN_EXPERT_K, layer, a));
                w.put(Role.V, loader.attentionExpert(manager, arena, Role.ATTN_EXPERT_V, layer, a));
            }
            attentionExperts.add(w);
        }
    }

    /** BAM: attention experts in this layer (0: standard attention). */
    public int attentionExpertCount() {
        return attentionExperts.size();
    }

    /**
     * BAM: attention expert {@code a}'s projection, {@code role} one of {@link Role#Q}, {@link Role#K}, {@link Role#V},
     * {@link Role#O}; with shared K/V the layer's own K and V.
     */
    public NDArray attentionExpert(Role role, int a) {
        NDArray own = attentionExperts.get(a).get(role);
        return own != null ? own : tensors.get(role);
    }

    void installAttentionExpert(Role role, int a, NDArray array) {
        attentionExperts.get(a).put(role, array);
    }

    /** BAM: the roles attention expert {@code a} holds itself (q, o and, Expert-KV, k, v). */
    java.util.Set<Role> attentionExpertRoles(int a) {
        return Collections.unmodifiableSet(attentionExperts.get(a).keySet());
    }

    /** Phi-3.5-MoE's sparsemixer threshold {@code router_jitter_noise} (default 0.01). */
    double jitterEps() {
        return loader.spec().config().path("router_jitter_noise").asDouble(0.01);
    }

    public int layer() {
        return layer;
    }

    public LayerSpec spec() {
        return layerSpec;
    }

    /** A per-layer tensor, or null if the checkpoint lacks it (optional biases, norms, gates). */
    public NDArray get(Role role) {
        return tensors.get(role);
    }

    /** A routed expert's tensor ({@link Role#EXPERT_GATE}, {@link Role#EXPERT_UP}, {@link Role#EXPERT_DOWN}). */
    public NDArray expert(Role role, int expert) {
        return experts.get(expert).get(role);
    }

    /** A parameter a method added to this layer ({@link CausalLm#addParameter}), or null. */
    public NDArray extra(String name) {
        return extras.get(name);
    }

    /**
     * Replaces a weight by fp32 values of the same shape ({@code expert} is ignored for per-layer roles). The old
     * array is closed; the next forward uses the new one.
     */
    public void replace(Role role, int expert, float[] values) {
        Map<Role, NDArray> home = role.perExpert() ? experts.get(expert) : tensors;
        NDArray old = home.get(role);
        if (old == null) {
            throw new IllegalArgumentException("layer " + layer + " has no weight for role " + role);
        }
        home.put(role, loader.fromFloats(manager, arena, values, old.getShape().getShape()));
        old.close();
    }

    /** A weight as fp32 values {@code [out, in]} row-major (copies from the device). */
    public float[] floats(Role role, int expert) {
        NDArray w = role.perExpert() ? expert(role, expert) : get(role);
        if (w == null) {
            throw new IllegalArgumentException("layer " + layer + " has no weight for role " + role);
        }
        try (NDArray f = w.toType(ai.djl.ndarray.types.DataType.FLOAT32, true)) {
            return f.toFloatArray();
        }
    }

    void addExtra(String name, float[] values, long[] shape) {
        if (extras.containsKey(name)) {
            throw new IllegalArgumentException("layer " + layer + " already has a parameter named '" + name + "'");
        }
        extras.put(name, loader.fromFloats(manager, arena, values, shape));
    }

    // plumbing for Trainable: the arrays the forward reads, and swapping them without closing
    NDManager manager() {
        return manager;
    }

    Map<Role, NDArray> tensorMap() {
        return Collections.unmodifiableMap(tensors);
    }

    int expertCount() {
        return experts.size();
    }

    Map<String, NDArray> extraMap() {
        return Collections.unmodifiableMap(extras);
    }

    void install(Role role, int expert, NDArray array) {
        (role.perExpert() ? experts.get(expert) : tensors).put(role, array);
    }

    void installExtra(String name, NDArray array) {
        extras.put(name, array);
    }

    @Override
    public void close() {
        manager.close();
        arena.close();
    }
}
