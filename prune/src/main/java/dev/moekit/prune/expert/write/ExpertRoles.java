package dev.moekit.prune.expert.write;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.util.List;

/** Which roles hold a layer's routed experts and router in a given checkpoint layout. */
public final class ExpertRoles {
    private static final List<Role> PER_EXPERT = List.of(Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN);
    private static final List<Role> FUSED = List.of(Role.EXPERTS_GATE_UP, Role.EXPERTS_DOWN);
    private static final List<Role> ROUTER = List.of(Role.ROUTER, Role.ROUTER_BIAS, Role.ROUTER_CORRECTION_BIAS);

    private ExpertRoles() {}

    /** Expert roles of the layout: per-expert gate/up/down, or fused gate_up/down ([E, ...] 3-D tensors). */
    public static List<Role> expertRoles(ModelSpec spec) {
        List<Role> roles = spec.fusedExperts() ? FUSED : PER_EXPERT;
        return roles.stream().filter(r -> spec.family().has(r)).toList();
    }

    /** Router roles (weight, bias, DeepSeek-V3 correction bias) that this checkpoint holds for {@code layer}. */
    public static List<Role> routerRoles(Checkpoint in, ModelSpec spec, int layer) {
        return routerRoles(TensorTable.of(in), spec, layer);
    }

    /** Router roles (weight, bias, DeepSeek-V3 correction bias) that these tensors hold for {@code layer}. */
    public static List<Role> routerRoles(TensorTable in, ModelSpec spec, int layer) {
        return ROUTER.stream().filter(r -> spec.family().has(r) && in.has(spec.name(r, layer))).toList();
    }

    /** The router weight name, checked to exist. */
    public static String router(Checkpoint in, ModelSpec spec, int layer) {
        return router(TensorTable.of(in), spec, layer);
    }

    /** The router weight name, checked to exist. */
    public static String router(TensorTable in, ModelSpec spec, int layer) {
        String n = spec.name(Role.ROUTER, layer);
        if (!in.has(n)) {
            throw new CheckpointException(in.where() + ": MoE layer " + layer + " has no router tensor '" + n + "'");
        }
        return n;
    }
}
