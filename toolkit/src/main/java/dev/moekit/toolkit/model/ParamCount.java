package dev.moekit.toolkit.model;

import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.TensorInfo;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;

/**
 * Parameter accounting for {@code moekit inspect}.
 *
 * <p>Active parameters per token follow the common convention (Mixtral, DeepSeek, Qwen reports): every parameter that
 * is not a routed expert counts as active, embeddings and lm_head included (a tied embedding once), plus, in every MoE
 * layer, {@code top_k} routed experts' worth: {@code active = total - Σ_moe layers routed(l) + Σ top_k(l) * routed(l) / E(l)}.
 * Shared experts and routers are always active.
 *
 * @param total        all parameters in the checkpoint
 * @param active       parameters used per token (see above)
 * @param params       parameters by role kind
 * @param bytes        stored bytes by role kind
 * @param unclassified parameters of tensors the spec does not declare (counted in total and active)
 */
public record ParamCount(long total, long active, Map<Role.Kind, Long> params, Map<Role.Kind, Long> bytes, long unclassified) {
    public ParamCount {
        params = Collections.unmodifiableMap(new EnumMap<>(params));
        bytes = Collections.unmodifiableMap(new EnumMap<>(bytes));
    }

    public static ParamCount of(Checkpoint c, ModelSpec spec) {
        Map<String, TensorLayout.Planned> byName = new HashMap<>();
        TensorLayout.expected(spec).forEach(p -> byName.put(p.name(), p));
        Map<Role.Kind, Long> params = new EnumMap<>(Role.Kind.class);
        Map<Role.Kind, Long> bytes = new EnumMap<>(Role.Kind.class);
        long[] routedByLayer = new long[spec.layers()];
        long total = 0;
        long unclassified = 0;
        for (String n : c.names()) {
            TensorInfo t = c.info(n);
            total += t.numel();
            TensorLayout.Planned p = byName.get(n);
            if (p == null) {
                unclassified += t.numel();
                continue;
            }
            Role.Kind k = p.role().kind();
            params.merge(k, t.numel(), Long::sum);
            bytes.merge(k, t.byteSize(), Long::sum);
            if (k == Role.Kind.ROUTED_EXPERT) {
                routedByLayer[p.layer()] += t.numel();
            }
        }
        long active = total;
        for (LayerSpec ls : spec.layerSpecs()) {
            if (ls.moe()) {
                long routed = routedByLayer[ls.index()];
                active -= routed - routed / ls.experts() * ls.topK();
            }
        }
        return new ParamCount(total, active, params, bytes, unclassified);
    }

    public long params(Role.Kind k) {
        return params.getOrDefault(k, 0L);
    }

    public long bytes(Role.Kind k) {
        return bytes.getOrDefault(k, 0L);
    }
}
