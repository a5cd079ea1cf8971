package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The trainable parameters of a resident {@link CausalLm}, chosen by {@link ParamGroup}: each selected weight is
 * replaced by an fp32 master copy that takes gradients, held by the weight's own manager (so the model stays usable
 * after training, and closes it). The forward reads the masters themselves when the runtime computes in fp32; in fp16
 * {@link #bind} installs casts made inside the step (so the graph reaches the fp32 masters) and {@link #sync} installs
 * fresh resting copies once the masters changed. Nothing is trained unless the caller runs the forward inside a
 * {@code GradientCollector}.
 */
public final class Trainable {
    /**
     * One trainable tensor.
     *
     * @param key    unique, stable name: the checkpoint tensor's name, {@code <fused>[e].gate|up|down} for one expert
     *               of a fused tensor, {@code extra:<name>[@layer]} for an added parameter
     * @param role   the checkpoint role, null for an added parameter
     * @param layer  decoder layer, -1 for model-level tensors
     * @param expert routed expert, -1 if none
     * @param extra  an added parameter's name, else null
     * @param master fp32, requires gradient
     */
    public record Param(String key, Role role, int layer, int expert, String extra, NDArray master) {
        /** Elements. */
        public long size() {
            return master.size();
        }

        /** Whether this is a matrix (weight decay applies to matrices, not to norms, biases or gains). */
        public boolean matrix() {
            return master.getShape().dimension() >= 2;
        }

        /** The master's values, row-major fp32 (copies from the device). */
        public float[] floats() {
            return master.toFloatArray();
        }

        /** Overwrites the master's values (resuming); grad mode must be off. */
        public void load(float[] values) {
            if (values.length != master.size()) {
                throw new IllegalArgumentException("parameter '" + key + "' has " + master.size() + " values, got " + values.length);
            }
            master.set(FloatBuffer.wrap(values));
        }
    }

    private final Precision precision;
    private final List<Param> params = new ArrayList<>();
    private final List<Consumer<NDArray>> slots = new ArrayList<>();
    private final List<NDArray> resting = new ArrayList<>();   // fp16 copies the forward uses outside training steps

    private Trainable(Precision precision) {
        this.precision = precision;
    }

    /** Selects the parameters of {@code groups} in a fixed order: model-level, then layer by layer. */
    public static Trainable select(CausalLm model, Set<ParamGroup> groups) {
        if (model.options().layerwise()) {
            throw new IllegalArgumentException("training needs resident weights; layerwise loading cannot train");
        }
        ModelSpec spec = model.spec();
        Trainable t = new Trainable(model.options().precision());
        for (Role r : new Role[] {Role.EMBED, Role.LM_HEAD, Role.LM_HEAD_BIAS, Role.FINAL_NORM, Role.FINAL_NORM_BIAS}) {
            NDArray a = model.model(r);
            if (a != null && ParamGroup.selects(groups, r)) {
                t.add(new Param(spec.name(r), r, -1, -1, null, a), a2 -> model.installModel(r, a2));
            }
        }
        if (ParamGroup.selects(groups, null)) {
            for (String name : List.copyOf(model.extraMap().keySet())) {
                t.add(new Param("extra:" + name, null, -1, -1, name, model.extra(name)), a2 -> model.installExtra(name, a2));
            }
        }
        for (LayerWeights w : model.residentLayers()) {
            int l = w.layer();
            for (Role r : List.copyOf(w.tensorMap().keySet())) {
                if (ParamGroup.selects(groups, r)) {
                    t.add(new Param(spec.name(r, l), r, l, -1, null, w.get(r)), a2 -> w.install(r, -1, a2));
                }
            }
            for (int e = 0; e < w.expertCount(); e++) {
                for (Role r : new Role[] {Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN}) {
                    if (ParamGroup.selects(groups, r)) {
                        int ex = e;
                        NDArray a = w.expert(r, e);
                        t.add(new Param(expertKey(spec, r, l, e), r, l, e, null, a), a2 -> w.install(r, ex, a2));
                    }
                }
            }
            for (int a = 0; a < w.attentionExpertCount(); a++) {      // BAM: each attention expert's own q, k, v, o
                for (Role own : List.copyOf(w.attentionExpertRoles(a))) {
                    Role r = switch (own) {
                        case Q -> Role.ATTN_EXPERT_Q;
                        case K -> Role.ATTN_EXPERT_K;
                        case V -> Role.ATTN_EXPERT_V;
                        default -> Role.ATTN_EXPERT_O;
                    };
                    if (ParamGroup.selects(groups, r)) {
                        int ex = a;
                        t.add(new Param(spec.name(r, l, a), r, l, a, null, w.attentionExpert(own, a)),
                                a2 -> w.installAttentionExpert(own, ex, a2));
                    }
                }
            }
            if (ParamGroup.selects(groups, null)) {
                for (String name : List.copyOf(w.extraMap().keySet())) {
                    t.add(new Param("extra:" + name + "@" + l, null, l, -1, name, w.extra(name)), a2 -> w.installExtra(name, a2));
                }
            }
        }
        return t;
    }

    /** The key of one routed expert's matrix: its own tensor name, or the fused tensor's with the expert and part. */
    static String expertKey(ModelSpec spec, Role role, int layer, int expert) {
        if (!spec.fusedExperts()) {
            return spec.name(role, layer, expert);
        }
        Role fused = role == Role.EXPERT_DOWN ? Role.EXPERTS_DOWN : Role.EXPERTS_GATE_UP;
        return spec.name(fused, layer) + "[" + expert + "]." + role.name().substring("EXPERT_".length()).toLowerCase(Locale.ROOT);
    }

    /** Replaces {@code p.master} (still the compute array) by its fp32 master and installs the compute view. */
    private void add(Param p, Consumer<NDArray> slot) {
        NDArray old = p.master();
        NDArray master = old.getDataType() == DataType.FLOAT32 ? old.duplicate() : old.toType(DataType.FLOAT32, false);
        old.close();
        master.setRequiresGradient(true);
        params.add(new Param(p.key(), p.role(), p.layer(), p.expert(), p.extra(), master));
        slots.add(slot);
        NDArray view = precision == Precision.FP32 ? master : master.toType(precision.dataType(), false);
        resting.add(view);
        slot.accept(view);
    }

    public List<Param> params() {
        return List.copyOf(params);
    }

    public boolean isEmpty() {
        return params.isEmpty();
    }

    /** Trainable elements. */
    public long size() {
        return params.stream().mapToLong(Param::size).sum();
    }

    /**
     * Before a training forward, inside the gradient collector: in fp16 installs casts of the masters created in
     * {@code step} (closed with it); in fp32 the forward reads the masters and nothing happens.
     */
    public void bind(NDManager step) {
        if (precision == Precision.FP32) {
            return;
        }
        for (int i = 0; i < params.size(); i++) {
            NDArray c = Ops.cast(params.get(i).master(), precision.dataType());   // differentiable: grad mode is on
            c.attach(step);
            slots.get(i).accept(c);
        }
    }

    /** After the masters changed (training, resuming), outside any step: installs fresh compute copies (fp16). */
    public void sync() {
        if (precision == Precision.FP32) {
            return;
        }
        for (int i = 0; i < params.size(); i++) {
            resting.get(i).close();
            NDArray c = params.get(i).master().toType(precision.dataType(), false);
            resting.set(i, c);
            slots.get(i).accept(c);
        }
    }
}
