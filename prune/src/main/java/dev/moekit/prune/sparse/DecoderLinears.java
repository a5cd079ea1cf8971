package dev.moekit.prune.sparse;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import java.util.ArrayList;
import java.util.List;

/**
 * The Linear weights of a decoder layer, as the reference's {@code find_layers(layer)} sees them: attention (standard
 * or MLA), dense MLP, router, routed experts (per-expert layout), shared experts and the shared-expert gate. Biases,
 * norms and embeddings are not Linears.
 */
public final class DecoderLinears {
    /** One Linear: key, tensor name and shape [out, in]. */
    public record Linear(LinearKey key, String name, int out, int in) {
        public Role role() {
            return key.role();
        }

        public long params() {
            return (long) out * in;
        }
    }

    private static final List<Role> LAYER_LINEARS = List.of(Role.Q, Role.K, Role.V, Role.O, Role.Q_A, Role.Q_B, Role.KV_A,
            Role.KV_B, Role.MLP_GATE, Role.MLP_UP, Role.MLP_DOWN, Role.ROUTER, Role.SHARED_GATE, Role.SHARED_UP,
            Role.SHARED_DOWN, Role.SHARED_EXPERT_GATE);
    private static final List<Role> EXPERT_LINEARS = List.of(Role.EXPERT_GATE, Role.EXPERT_UP, Role.EXPERT_DOWN);

    private DecoderLinears() {}

    /** Every Linear the checkpoint holds for {@code layer}. Fused expert layouts are refused. */
    public static List<Linear> of(Checkpoint in, ModelSpec spec, int layer) {
        List<Linear> out = new ArrayList<>();
        for (Role r : LAYER_LINEARS) {
            if (spec.family().has(r) && in.has(spec.name(r, layer))) {
                out.add(linear(in, LinearKey.of(r), spec.name(r, layer)));
            }
        }
        LayerSpec ls = spec.layer(layer);
        if (ls.moe() && ls.experts() > 0) {
            if (spec.fusedExperts()) {
                throw new IllegalArgumentException(in.dir() + ": unstructured pruning of fused 3-D expert tensors is not supported; convert to the per-expert layout first");
            }
            for (int e = 0; e < ls.experts(); e++) {
                for (Role r : EXPERT_LINEARS) {
                    out.add(linear(in, new LinearKey(r, e), spec.name(r, layer, e)));
                }
            }
        }
        return out;
    }

    private static Linear linear(Checkpoint in, LinearKey key, String name) {
        TensorInfo t = in.info(name);
        if (t.rank() != 2) {
            throw new IllegalArgumentException(in.dir() + ": Linear '" + name + "' has shape " + t.shapeString() + ", expected 2-D");
        }
        return new Linear(key, name, (int) t.dim(0), (int) t.dim(1));
    }

    /** Whether the options prune this Linear (routers and attention can be excluded). */
    public static boolean inScope(Linear l, SparsityOptions o) {
        return switch (l.role().kind()) {
            case ATTENTION -> o.includeAttention();
            case ROUTER -> o.includeRouter();
            default -> l.role() == Role.SHARED_EXPERT_GATE ? o.includeRouter() : true;
        };
    }
}
