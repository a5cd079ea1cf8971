package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.lang.foreign.Arena;
import dev.moekit.toolkit.model.CompressedExperts;
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
    /** Compressed experts of this layer ({@link CompressedExperts#NONE} unless the config enables them). */
    private final CompressedExperts ce;

    LayerWeights(NDManager parent, WeightLoader loader, int layer) {
        this.layer = layer;
        this.loader = loader;
        this.layerSpec = loader.spec().layer(layer);
        this.manager = parent.newSubManager();
        this.arena = Arena.ofShared();
        this.ce = layerSpec.moe() ? CompressedExperts.of(loader.spec()) : CompressedExperts.NONE;
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
        if (ce.enabled() && loader.has(Role.CES, layer)) {
            tensors.put(Role.CES, loader.layer(manager, arena, Role.CES, layer));
        }
        int count = layerSpec.experts();
        for (int e = 0; e < count; e++) {
            experts.add(new EnumMap<>(Role.class));
        }
        long[] up = {layerSpec.expertFfn(), spec.hidden()};
        long[] down = {spec.hidden(), layerSpec.expertFfn()};
        for (Role role : new Role[] {Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN}) {
            long[] shape = role == Role.EXPERT_DOWN ? down : up;
            NDArray stack = count == 0 ? null : loader.experts(manager, arena, role, layer, count, shape);
            if (stack != null) {
                stacks.put(role, stack);
            }
            for (int e = 0; e < count; e++) {
                experts.get(e).put(role, stack != null ? stack.get(e) : loader.expert(manager, arena, role, layer, e, shape));
            }
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

    /** The compressed-experts settings of this layer. */
    public CompressedExperts compressed() {
        return ce;
    }

    /**
     * The compressed experts' vectors {@code [E, width]} (flattened per expert): a method's added parameter
     * {@code ces} when there is one (training), else the checkpoint's tensor, else null, which means ones; a 3-D
     * tensor is viewed flat in {@code scope}.
     */
    NDArray ces(NDManager scope) {
        NDArray a = extras.get("ces");
        if (a == null) {
            a = tensors.get(Role.CES);
        }
        if (a == null || a.getShape().dimension() == 2) {
            return a;
        }
        NDArray flat = a.reshape(layerSpec.experts(), -1);   // the released code's [E, 3, d]
        flat.attach(scope);                                    // a view for this step, freed with it
        return flat;
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

    /**
     * One routed-expert role of all experts as {@code [E, out, in]}, for the padded dispatch, or null once any
     * expert's weight of that role was replaced or swapped (the per-expert arrays are views of it until then).
     */
    NDArray stacked(Role role) {
        return stacks.get(role);
    }

    /** Stacked expert weights, loaded as one array per role; the per-expert arrays are views of them. */
    private final Map<Role, NDArray> stacks = new EnumMap<>(Role.class);

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
        if (role.perExpert()) {
            stacks.remove(role);             // the stack stays alive (views of it remain) but is no longer current
        }
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

    boolean extraMapIsEmpty() {
        return extras.isEmpty();
    }

    Map<String, NDArray> extraMap() {
        return Collections.unmodifiableMap(extras);
    }

    void install(Role role, int expert, NDArray array) {
        (role.perExpert() ? experts.get(expert) : tensors).put(role, array);
        if (role.perExpert()) {
            stacks.remove(role);
        }
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
