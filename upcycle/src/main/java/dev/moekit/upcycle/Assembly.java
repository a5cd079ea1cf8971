package dev.moekit.upcycle;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.CheckpointWriter;
import dev.moekit.toolkit.io.TensorInfo;
import dev.moekit.toolkit.model.ConfigWriter;
import dev.moekit.toolkit.model.Family;
import dev.moekit.toolkit.model.FamilyRegistry;
import dev.moekit.toolkit.model.LayerSpec;
import dev.moekit.toolkit.model.ModelSpec;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.TensorFacts;
import dev.moekit.toolkit.model.TensorLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Builds a mixture-of-experts checkpoint from dense ones of one shape (the shared core of sparse upcycling, BTX and
 * BAM's FFN half): expert {@code e} of every MoE layer is the MLP of dense input {@code experts[e]}; attention, norms,
 * embeddings and the MLPs of layers left dense are the uniform average of the {@code averaged} inputs (a plain byte
 * copy when there is one); routers are new, {@code N(0, router_std)} from the seed. Averages are taken in fp32 and
 * written back in the inputs' dtype (bf16 round-to-nearest-even).
 *
 * <p>Output formats, both stock transformers classes: every layer MoE is a Mixtral checkpoint (per-expert
 * {@code w1/w3/w2}, softmax top-k renormalised); MoE in every other layer is a Qwen2-MoE checkpoint with
 * {@code decoder_sparse_step: 2} (layers 1, 3, 5, ... sparse, as transformers counts them), {@code norm_topk_prob:
 * true} (so identical experts reproduce the dense MLP exactly), a shared expert of width 0 (Qwen2-MoE always builds
 * one; width 0 adds nothing) and zero q/k/v biases (Qwen2 attention has them). The lm_head is written out (the seed's
 * tied embedding copied or averaged) with {@code tie_word_embeddings: false}, as the shared reference upcycled model.
 */
public final class Assembly {
    /** Which decoder layers become mixtures of experts. */
    public enum Layers { ALL, EVERY_OTHER }

    /**
     * What to build.
     *
     * @param experts   per expert, the dense checkpoint whose MLP it copies
     * @param averaged  the dense checkpoints averaged into attention, norms, embeddings (and remaining dense MLPs)
     * @param layers    all layers MoE (Mixtral) or every other (Qwen2-MoE)
     * @param topK      experts per token
     * @param routerStd standard deviation of the new routers; NaN takes the seed's {@code initializer_range} (0.02)
     * @param seed      random seed of the routers
     */
    public record Spec(List<Path> experts, List<Path> averaged, Layers layers, int topK, double routerStd, long seed, Bam bam) {
        public Spec(List<Path> experts, List<Path> averaged, Layers layers, int topK, double routerStd, long seed) {
            this(experts, averaged, layers, topK, routerStd, seed, null);
        }

        public Spec {
            experts = List.copyOf(experts);
            averaged = List.copyOf(averaged);
            if (bam != null && layers != Layers.ALL) {
                throw new IllegalArgumentException("BAM upcycles every layer");
            }
            if (experts.isEmpty() || averaged.isEmpty()) {
                throw new IllegalArgumentException("upcycling needs at least one expert source and one averaged input");
            }
            if (topK < 1 || topK > experts.size()) {
                throw new IllegalArgumentException("top_k " + topK + " is not within 1.." + experts.size() + " experts");
            }
        }
    }

    /**
     * BAM's attention half: input {@code experts[a]}'s attention becomes attention expert {@code a} of every layer
     * (Shared-KV: its q and o; k and v are the average), mixed softly by a new attention router.
     *
     * @param sharedKv per-expert q and o with shared (averaged) k and v, instead of each expert's own q, k, v, o
     * @param parallel the parallel attention block (attention and MLP read the same input) instead of the seed's
     *                 sequential one
     */
    public record Bam(boolean sharedKv, boolean parallel) {}

    /** The files of BAM's modeling code written into a BAM checkpoint (transformers, trust_remote_code=True). */
    public static final List<String> BAM_CODE = List.of("configuration_moekit_bam.py", "modeling_moekit_bam.py");

    private Assembly() {}

    /** Checks that {@code dense} can be upcycled (a dense model whose attention a Mixtral or Qwen2-MoE layer holds). */
    public static void checkSeed(ModelSpec dense, Object where) {
        if (dense.isMoe()) {
            throw new IllegalArgumentException(where + ": is already a mixture of experts (family " + dense.family().name()
                    + "); upcycling starts from a dense checkpoint");
        }
        if (dense.mla() != null || dense.norm() != Family.Norm.RMS || dense.holds(Role.Q_NORM) || dense.holds(Role.Q_BIAS)
                || dense.holds(Role.O_BIAS)) {
            throw new IllegalArgumentException(where + ": family " + dense.family().name()
                    + " has attention biases, q/k norms, LayerNorm or latent attention, which the Mixtral and Qwen2-MoE outputs cannot hold");
        }
        int ffn = dense.layer(0).ffn();
        for (LayerSpec l : dense.layerSpecs()) {
            if (l.ffn() != ffn) {
                throw new IllegalArgumentException(where + ": layer " + l.index() + " has MLP width " + l.ffn() + ", layer 0 " + ffn
                        + "; experts of one MoE need one width");
            }
        }
    }

    /** Checks that {@code other} has exactly the seed's tensors (names, shapes) and vocabulary. */
    public static void checkCompatible(Checkpoint seed, Checkpoint other) {
        ModelSpec s = ModelSpec.of(seed);
        ModelSpec o = ModelSpec.of(other);
        checkSeed(o, other.dir());
        if (o.layers() != s.layers() || o.hidden() != s.hidden() || o.heads() != s.heads() || o.kvHeads() != s.kvHeads()
                || o.headDim() != s.headDim() || o.vocab() != s.vocab() || o.layer(0).ffn() != s.layer(0).ffn()) {
            throw new IllegalArgumentException(other.dir() + ": shape " + shape(o) + " differs from the seed " + seed.dir() + " " + shape(s));
        }
        for (String n : seed.names()) {
            if (!other.has(n)) {
                throw new IllegalArgumentException(other.dir() + ": tensor '" + n + "' of the seed is missing");
            }
            if (!Arrays.equals(other.info(n).shape(), seed.info(n).shape())) {
                throw new IllegalArgumentException(other.dir() + ": tensor '" + n + "' has shape " + other.info(n).shapeString()
                        + ", the seed's " + seed.info(n).shapeString());
            }
        }
    }

    private static String shape(ModelSpec s) {
        return "(layers " + s.layers() + ", hidden " + s.hidden() + ", heads " + s.heads() + "/" + s.kvHeads() + ", head_dim "
                + s.headDim() + ", ffn " + s.layer(0).ffn() + ", vocab " + s.vocab() + ")";
    }

    /** The output family for a layer choice (BAM: moekit_bam). */
    public static Family family(Layers layers, Bam bam) {
        return FamilyRegistry.standard().byName(bam != null ? "moekit_bam" : layers == Layers.ALL ? "mixtral" : "qwen2_moe");
    }

    /** config.json of the MoE built from {@code dense} with {@code experts} experts. */
    public static ObjectNode config(ModelSpec dense, int experts, int topK, Layers layers) {
        return config(dense, experts, topK, layers, null);
    }

    /** config.json of the MoE (BAM with {@code bam}: as many attention experts as FFN experts, and the auto_map). */
    public static ObjectNode config(ModelSpec dense, int experts, int topK, Layers layers, Bam bam) {
        Family to = family(layers, bam);
        int ffn = dense.layer(0).ffn();
        ConfigWriter w = ConfigWriter.convert(dense, to)
                .set("num_experts", experts).set("top_k", topK).set("expert_ffn", ffn).set("tie_embeddings", false);
        if (layers == Layers.EVERY_OTHER) {
            w.set("ffn", ffn).set("renormalize", true).set("sparse_step", 2)
                    .set("mlp_only_layers", JsonNodeFactory.instance.arrayNode()).set("shared_ffn", 0)
                    .set("use_sliding_window", false);
        } else {
            w.raw("router_jitter_noise", JsonNodeFactory.instance.numberNode(0.0));
        }
        w.raw("output_router_logits", JsonNodeFactory.instance.booleanNode(false));
        if (bam != null) {
            w.set("attention_experts", experts).set("shared_kv", bam.sharedKv()).set("parallel_attention", bam.parallel());
            ObjectNode auto = JsonNodeFactory.instance.objectNode();
            auto.put("AutoConfig", "configuration_moekit_bam.MoekitBamConfig");
            auto.put("AutoModelForCausalLM", "modeling_moekit_bam.MoekitBamForCausalLM");
            w.raw("auto_map", auto);
        }
        // keys of the dense family that mean nothing to the MoE one
        ObjectNode c = w.build();
        c.remove(List.of("mlp_bias", "attention_bias", "pretraining_tp"));
        return c;
    }

    /** The storage facts of the output: per-expert tensors, an lm_head, q/k/v biases for Qwen2-MoE. */
    public static TensorFacts facts(ModelSpec dense, Layers layers) {
        return facts(dense, layers, null);
    }

    /** As {@link #facts(ModelSpec, Layers)}; BAM holds the layer's own k and v only with shared K/V. */
    public static TensorFacts facts(ModelSpec dense, Layers layers, Bam bam) {
        Set<Role> present = EnumSet.of(Role.LM_HEAD);
        if (bam != null && bam.sharedKv()) {
            present.addAll(List.of(Role.K, Role.V));
        }
        if (layers == Layers.EVERY_OTHER) {
            present.addAll(List.of(Role.Q_BIAS, Role.K_BIAS, Role.V_BIAS));
        }
        return new TensorFacts(false, present, dense.dtype());
    }

    /** Every output tensor, in checkpoint order. */
    public static List<TensorLayout.Planned> tensors(ObjectNode config, TensorFacts facts) {
        return TensorLayout.expected(ModelSpec.fromConfig(config, facts));
    }

    /** Writes the MoE checkpoint to {@code out}; returns its config. {@code seed} decides the layout. */
    public static ObjectNode write(Path seed, Spec spec, Path out) {
        List<Checkpoint> opened = new ArrayList<>();
        try {
            Checkpoint s = Checkpoint.open(seed);
            opened.add(s);
            ModelSpec dense = ModelSpec.of(s);
            checkSeed(dense, seed);
            List<Checkpoint> experts = new ArrayList<>();
            List<Checkpoint> averaged = new ArrayList<>();
            for (Path p : spec.experts()) {
                experts.add(open(p, s, opened));
            }
            for (Path p : spec.averaged()) {
                averaged.add(open(p, s, opened));
            }
            double std = Double.isNaN(spec.routerStd()) ? s.config().path("initializer_range").asDouble(0.02) : spec.routerStd();
            ObjectNode config = config(dense, experts.size(), spec.topK(), spec.layers(), spec.bam());
            TensorFacts facts = facts(dense, spec.layers(), spec.bam());
            List<TensorLayout.Planned> planned = tensors(config, facts);
            List<Path> inputs = new ArrayList<>(List.of(seed));
            inputs.addAll(spec.experts());
            inputs.addAll(spec.averaged());
            try (CheckpointWriter w = CheckpointWriter.create(out, planned.stream().map(TensorLayout.Planned::tensor).toList(),
                    CheckpointWriter.Options.defaults(), inputs.toArray(Path[]::new))) {
                for (TensorLayout.Planned t : planned) {
                    write(w, t, dense, experts, averaged, std, spec.seed());
                }
                w.copyOtherFiles(s);
                if (spec.bam() != null) {
                    for (String f : BAM_CODE) {
                        w.writeText(f, resource(f));
                    }
                }
                w.commit(config);
            }
            return config;
        } finally {
            opened.forEach(Checkpoint::close);
        }
    }

    /** A text resource of this package (BAM's modeling code). */
    static String resource(String file) {
        try (var in = Assembly.class.getResourceAsStream("hf/" + file)) {
            if (in == null) {
                throw new IllegalStateException("resource dev/moekit/upcycle/hf/" + file + " is missing from the build");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot read resource " + file, e);
        }
    }

    private static Checkpoint open(Path p, Checkpoint seed, List<Checkpoint> opened) {
        for (Checkpoint c : opened) {
            if (c.dir().toAbsolutePath().normalize().equals(p.toAbsolutePath().normalize())) {
                return c;
            }
        }
        Checkpoint c = Checkpoint.open(p);
        opened.add(c);
        checkCompatible(seed, c);
        return c;
    }

    private static void write(CheckpointWriter w, TensorLayout.Planned t, ModelSpec dense, List<Checkpoint> experts,
                              List<Checkpoint> averaged, double std, long seed) {
        String name = t.name();
        switch (t.role()) {
            case ROUTER -> {
                Random r = new Random(seed * 1_000_003L + t.layer());
                float[] v = new float[Math.toIntExact(t.tensor().numel())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (std * r.nextGaussian());
                }
                w.write(name, v);
            }
            case ATTN_ROUTER -> {
                Random r = new Random(seed * 1_000_003L + 7919L * (t.layer() + 1));
                float[] v = new float[Math.toIntExact(t.tensor().numel())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (std * r.nextGaussian());
                }
                w.write(name, v);
            }
            case ATTN_EXPERT_Q, ATTN_EXPERT_K, ATTN_EXPERT_V, ATTN_EXPERT_O -> {
                Role dr = switch (t.role()) {
                    case ATTN_EXPERT_Q -> Role.Q;
                    case ATTN_EXPERT_K -> Role.K;
                    case ATTN_EXPERT_V -> Role.V;
                    default -> Role.O;
                };
                copy(w, name, experts.get(t.expert()), dense.name(dr, t.layer()));
            }
            case Q_BIAS, K_BIAS, V_BIAS -> w.write(name, new float[Math.toIntExact(t.tensor().numel())]);
            case EXPERT_GATE, EXPERT_UP, EXPERT_DOWN -> {
                Role dr = t.role() == Role.EXPERT_GATE ? Role.MLP_GATE : t.role() == Role.EXPERT_UP ? Role.MLP_UP : Role.MLP_DOWN;
                copy(w, name, experts.get(t.expert()), dense.name(dr, t.layer()));
            }
            case LM_HEAD -> average(w, name, averaged, dense.tiedEmbeddings() ? dense.name(Role.EMBED) : dense.name(Role.LM_HEAD));
            default -> average(w, name, averaged, t.layer() < 0 ? dense.name(t.role()) : dense.name(t.role(), t.layer()));
        }
    }

    private static void copy(CheckpointWriter w, String name, Checkpoint src, String srcName) {
        TensorInfo info = src.info(srcName);
        if (info.dtype() == w.spec(name).dtype()) {
            w.copy(name, src.shard(srcName), srcName);
        } else {
            w.write(name, src.floats(srcName));
        }
    }

    private static void average(CheckpointWriter w, String name, List<Checkpoint> srcs, String srcName) {
        if (srcs.size() == 1) {
            copy(w, name, srcs.getFirst(), srcName);
            return;
        }
        float[] sum = null;
        for (Checkpoint c : srcs) {
            if (!c.has(srcName)) {
                throw new CheckpointException(c.dir() + ": tensor '" + srcName + "' is missing");
            }
            float[] v = c.floats(srcName);
            if (sum == null) {
                sum = v;
            } else {
                for (int i = 0; i < v.length; i++) {
                    sum[i] += v[i];
                }
            }
        }
        float n = srcs.size();
        for (int i = 0; i < sum.length; i++) {
            sum[i] /= n;
        }
        w.write(name, sum);
    }

    /**
     * Parameters {total, active per token} of a spec: every declared tensor (an untied lm_head counted apart from the
     * embedding), with only top-k of E routed experts active.
     */
    public static long[] parameters(ModelSpec spec) {
        long total = 0;
        long active = 0;
        for (TensorLayout.Planned p : TensorLayout.expected(spec)) {
            long n = p.tensor().numel();
            total += n;
            active += p.role().kind() == Role.Kind.ROUTED_EXPERT
                    ? n * spec.layer(p.layer()).topK() / spec.layer(p.layer()).experts() : n;
        }
        return new long[] {total, active};
    }
}
