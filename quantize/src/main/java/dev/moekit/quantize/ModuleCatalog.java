package dev.moekit.quantize;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.TensorLayout;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * The linear weights of a checkpoint, found through its {@link ModelSpec} (never by name patterns): attention
 * projections, dense MLPs, routed experts (per-expert 2-D tensors, or one slice per expert of fused 3-D tensors),
 * shared experts, plus lm_head and the routers. Routers and the shared-expert gate are listed as {@link #gates()}:
 * they are never quantized (QuantMoE-Bench keeps the router in 16 bits; engines build them unquantized).
 *
 * @param spec    the parsed model
 * @param linears quantizable linear weights, in checkpoint order
 * @param gates   router and shared-expert-gate modules (never quantized)
 */
public record ModuleCatalog(ModelSpec spec, List<LinearModule> linears, List<LinearModule> gates) {
    static final Set<Role> LINEAR = EnumSet.of(Role.Q, Role.K, Role.V, Role.O, Role.Q_A, Role.Q_B, Role.KV_A, Role.KV_B,
            Role.MLP_GATE, Role.MLP_UP, Role.MLP_DOWN, Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN,
            Role.EXPERTS_GATE_UP, Role.EXPERTS_DOWN, Role.SHARED_GATE, Role.SHARED_UP, Role.SHARED_DOWN, Role.LM_HEAD);
    static final Set<Role> GATES = EnumSet.of(Role.ROUTER, Role.SHARED_EXPERT_GATE);

    public ModuleCatalog {
        linears = List.copyOf(linears);
        gates = List.copyOf(gates);
    }

    /** Catalogs {@code c}, whose structure is {@code spec}. */
    public static ModuleCatalog of(Checkpoint c, ModelSpec spec) {
        return of(spec, n -> c.has(n) ? TensorSpec.of(c.info(n)) : null);
    }

    /**
     * Catalogs a checkpoint from metadata alone: {@code tensors} gives a tensor's spec by name, or null when the
     * checkpoint lacks it (a planned {@code Layout}'s tensors, say).
     */
    public static ModuleCatalog of(ModelSpec spec, Function<String, TensorSpec> tensors) {
        List<LinearModule> linears = new ArrayList<>();
        List<LinearModule> gates = new ArrayList<>();
        for (TensorLayout.Planned p : TensorLayout.expected(spec)) {
            TensorSpec t = tensors.apply(p.name());
            if (t == null) {
                continue;
            }
            if (LINEAR.contains(p.role()) || GATES.contains(p.role())) {
                List<LinearModule> into = GATES.contains(p.role()) ? gates : linears;
                into.addAll(modules(p, t));
            }
        }
        return new ModuleCatalog(spec, linears, gates);
    }

    private static List<LinearModule> modules(TensorLayout.Planned p, TensorSpec t) {
        long[] d = t.shape();
        if (d.length == 2) {
            return List.of(new LinearModule(LinearModule.moduleOf(p.name()), p.name(), p.role(), p.layer(), p.expert(),
                    (int) d[0], (int) d[1], -1));
        }
        if (d.length == 3) { // fused experts [E, out, in]: one module per expert slice
            List<LinearModule> out = new ArrayList<>();
            for (int e = 0; e < d[0]; e++) {
                out.add(new LinearModule(p.name() + "." + e, p.name(), p.role(), p.layer(), e, (int) d[1], (int) d[2], e));
            }
            return out;
        }
        throw new dev.moekit.toolkit.io.CheckpointException("tensor '" + p.name() + "' of role " + p.role() + " has rank " + d.length + ", expected a matrix");
    }

    /** All linear modules, quantizable ones and gates. */
    public List<LinearModule> all() {
        List<LinearModule> a = new ArrayList<>(linears);
        a.addAll(gates);
        return a;
    }
}
