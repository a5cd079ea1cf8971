package dev.moekit.toolkit.testing;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.Json;
import dev.moekit.toolkit.io.TensorSpec;
import dev.moekit.toolkit.model.Family;
import dev.moekit.toolkit.model.FamilyRegistry;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.TensorFacts;
import dev.moekit.toolkit.model.TensorLayout;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Writes tiny random checkpoints of any registered family, in milliseconds, as real sharded safetensors with an index
 * and a {@code config.json} in the family's own dialect (transformers 4.x by default, 5.x on request).
 *
 * <pre>
 *   Path dir = TinyCheckpoints.write(tmp.resolve("m"), "mixtral");
 *   Path q = TinyCheckpoints.builder("qwen2_moe").layers(3).fused(true).seed(7).write(tmp.resolve("q"));
 * </pre>
 *
 * <p>Values: normal(0, 0.02) for weights and biases, ones for norm weights, zeros for norm biases. Every matrix is
 * seeded from (seed, role, layer, expert) only, so the per-expert and the fused layout of the same options hold the
 * same expert matrices, and the same options always give the same bytes.
 */
public final class TinyCheckpoints {
    private TinyCheckpoints() {}

    /** A tiny checkpoint of {@code family} with default options (see {@link TinyOptions#defaults}). */
    public static Path write(Path dir, String family) {
        return builder(family).write(dir);
    }

    public static TinyOptions builder(String family) {
        return TinyOptions.defaults(family);
    }

    /** The config.json {@code options} describe, in the family's dialect. */
    public static ObjectNode config(TinyOptions o) {
        return TinyConfig.of(o);
    }

    /** The spec of the checkpoint {@code options} describe, without writing it. */
    public static ModelSpec spec(TinyOptions o) {
        return ModelSpec.fromConfig(config(o), facts(o));
    }

    static TensorFacts facts(TinyOptions o) {
        Family f = FamilyRegistry.standard().byName(o.family());
        Set<Role> present = EnumSet.noneOf(Role.class);
        if (!o.tiedEmbeddings()) {
            present.add(Role.LM_HEAD);
        }
        if (o.qkvBias()) {
            present.addAll(List.of(Role.Q_BIAS, Role.K_BIAS, Role.V_BIAS));
        }
        if (o.outputBias()) {
            present.addAll(List.of(Role.O_BIAS, Role.LM_HEAD_BIAS));
        }
        if (o.qkNorm()) {
            present.addAll(List.of(Role.Q_NORM, Role.K_NORM));
        }
        if (o.sharedExpertGate()) {
            present.add(Role.SHARED_EXPERT_GATE);
        }
        if (o.correctionBias()) {
            present.add(Role.ROUTER_CORRECTION_BIAS);
        }
        present.retainAll(f.optional());
        return new TensorFacts(o.fused(), present, o.dtype());
    }

    /** Writes the checkpoint to {@code dir} (replacing it if it exists) and returns {@code dir}. */
    static Path write(TinyOptions o, Path dir) {
        ObjectNode cfg = config(o);
        ModelSpec spec = ModelSpec.fromConfig(cfg, facts(o));
        List<TensorLayout.Planned> plan = TensorLayout.expected(spec);
        List<TensorSpec> specs = plan.stream().map(TensorLayout.Planned::tensor).toList();
        var opts = CheckpointWriter.Options.defaults().withMaxShardSize(o.maxShardBytes()).withReplace(true);
        try (CheckpointWriter w = CheckpointWriter.create(dir, specs, opts)) {
            for (TensorLayout.Planned p : plan) {
                w.write(p.name(), values(o, spec, p));
            }
            return w.commit(cfg);
        }
    }

    private static float[] values(TinyOptions o, ModelSpec spec, TensorLayout.Planned p) {
        Role r = p.role();
        int n = Math.toIntExact(p.tensor().numel());
        float[] v = new float[n];
        boolean normWeight = r.kind() == Role.Kind.NORM && !r.name().endsWith("_BIAS");
        if (normWeight) {
            java.util.Arrays.fill(v, 1f);
            return v;
        }
        if (r.kind() == Role.Kind.NORM) {
            return v; // LayerNorm biases start at zero
        }
        if (r.fused()) {
            // assemble from the per-expert matrices so both layouts hold the same experts
            int experts = (int) p.tensor().shape()[0];
            int per = n / experts;
            for (int e = 0; e < experts; e++) {
                if (r == Role.EXPERTS_DOWN) {
                    gaussian(o, Role.EXPERT_DOWN, p.layer(), e, v, e * per, per);
                } else {
                    gaussian(o, Role.EXPERT_GATE, p.layer(), e, v, e * per, per / 2);
                    gaussian(o, Role.EXPERT_UP, p.layer(), e, v, e * per + per / 2, per / 2);
                }
            }
            return v;
        }
        gaussian(o, r, p.layer(), p.expert(), v, 0, n);
        return v;
    }

    private static void gaussian(TinyOptions o, Role r, int layer, int expert, float[] dst, int off, int count) {
        long s = o.seed() * 0x9E3779B97F4A7C15L + r.ordinal() * 1_000_003L + (layer + 1) * 10_007L + expert + 1;
        SplittableRandom rnd = new SplittableRandom(s);
        for (int i = 0; i < count; i++) {
            dst[off + i] = (float) (rnd.nextGaussian() * o.std());
        }
    }

    /** The config as pretty JSON text (for debugging tests). */
    public static String configText(TinyOptions o) {
        try {
            return Json.PRETTY.writeValueAsString(config(o));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static ArrayNode ints(ObjectNode parent, String key, int[] values) {
        ArrayNode a = parent.putArray(key);
        for (int x : values) {
            a.add(x);
        }
        return a;
    }
}
