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
        long[] cesByLayer = new long[spec.layers()];
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
            if (p.role() == Role.CES) {
                cesByLayer[p.layer()] += t.numel();
            } else if (k == Role.Kind.ROUTED_EXPERT) {
                routedByLayer[p.layer()] += t.numel();
            }
        }
        return new ParamCount(total, active(spec, total, routedByLayer, cesByLayer), params, bytes, unclassified);
    }

    /**
     * Parameters used per token by the tensors {@code spec} declares (no checkpoint needed; see the class comment).
     * With compressed experts only the {@code top_k - n_ce} main experts run, and each token reads {@code n_ce} rows
     * of {@code ces}.
     */
    public static long activePerToken(ModelSpec spec) {
        long[] routed = new long[spec.layers()];
        long[] ces = new long[spec.layers()];
        long total = 0;
        for (TensorLayout.Planned p : TensorLayout.expected(spec)) {
            long n = p.tensor().numel();
            if (p.role() == Role.LM_HEAD && spec.tiedEmbeddings()) {
                continue;
            }
            total += n;
            if (p.role() == Role.CES) {
                ces[p.layer()] += n;
            } else if (p.role().kind() == Role.Kind.ROUTED_EXPERT) {
                routed[p.layer()] += n;
            }
        }
        return active(spec, total, routed, ces);
    }

    private static long active(ModelSpec spec, long total, long[] routedByLayer, long[] cesByLayer) {
        CompressedExperts ce = CompressedExperts.of(spec);
        long active = total;
        for (LayerSpec ls : spec.layerSpecs()) {
            if (ls.moe()) {
                long routed = routedByLayer[ls.index()];
                int run = ce.enabled() ? ce.main(ls) : ls.topK();
                active -= routed - routed / ls.experts() * run;
                long c = cesByLayer[ls.index()];
                active -= c - (ce.enabled() ? c / ls.experts() * ce.aux() : 0);
            }
        }
        return active;
    }

    public long params(Role.Kind k) {
        return params.getOrDefault(k, 0L);
    }

    public long bytes(Role.Kind k) {
        return bytes.getOrDefault(k, 0L);
    }
}
