package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.Checkpoint;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.io.DType;
import dev.moekit.toolkit.io.Text;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Builds a {@link ModelSpec} from a checkpoint's config and tensors.
 *
 * <p>Which layers are MoE follows the union of the HF rules, each a no-op at its default: layer {@code l} is MoE iff
 * the family has experts, {@code l ∉ mlp_only_layers}, {@code (l+1) % decoder_sparse_step == 0} (Qwen2/3-MoE),
 * {@code l >= first_k_dense_replace} and {@code l % moe_layer_freq == 0} (DeepSeek).
 *
 * <p>Every value read from the config is checked for type and range first; sizes are bounded by the tensors
 * ({@link TensorCounts#checkLayers} before anything proportional to the layer count is built,
 * {@link TensorCounts#checkSizes} before any tensor is planned), so a config cannot make the reader allocate or loop
 * beyond what the checkpoint holds.
 */
final class ModelSpecParser {
    private ModelSpecParser() {}

    static ModelSpec parse(Checkpoint checkpoint) {
        ObjectNode cfg = checkpoint.config();
        String where = Text.path(checkpoint.dir().resolve(Checkpoint.CONFIG));
        Family family = FamilyRegistry.standard().find(cfg, where);
        ConfigReader reader = new ConfigReader(family, cfg, where);
        int layers = reader.integer("layers", "positive", 1);
        TensorCounts.checkLayers(family, checkpoint, reader, layers);
        boolean fused = detectFused(family, checkpoint, layers);
        Family resolved = family.withLayout(fused);
        TensorFacts facts = new TensorFacts(fused, presentOptional(resolved, checkpoint, layers), tensorDtype(resolved, checkpoint));
        ModelSpec spec = build(resolved, cfg, where, facts);
        ConfigReader resolvedReader = new ConfigReader(resolved, cfg, where);
        TensorCounts.checkSizes(spec, checkpoint, resolvedReader);
        TensorCounts.check(spec, checkpoint, resolvedReader);
        return spec;
    }

    /** Fused when some layer holds the fused gate/up tensor and no layer holds expert 0 as its own tensor. */
    private static boolean detectFused(Family f, Checkpoint c, int layers) {
        if (!f.traits().moe() || !f.supportsFused()) {
            return false;
        }
        Family fusedF = f.withLayout(true);
        boolean anyFused = false;
        for (int l = 0; l < layers; l++) {
            if (f.has(Role.EXPERT_UP) && c.has(f.name(Role.EXPERT_UP, l, 0))) {
                return false;
            }
            anyFused |= c.has(fusedF.name(Role.EXPERTS_GATE_UP, l, -1));
        }
        return anyFused;
    }

    private static Set<Role> presentOptional(Family f, Checkpoint c, int layers) {
        Set<Role> s = EnumSet.noneOf(Role.class);
        for (Role r : f.optional()) {
            if (!f.has(r)) {
                continue;
            }
            if (!r.perLayer()) {
                if (c.has(f.name(r, -1, -1))) {
                    s.add(r);
                }
                continue;
            }
            for (int l = 0; l < layers; l++) {
                if (c.has(f.name(r, l, 0))) {
                    s.add(r);
                    break;
                }
            }
        }
        return s;
    }

    private static DType tensorDtype(Family f, Checkpoint c) {
        String embed = f.name(Role.EMBED, -1, -1);
        return c.has(embed) ? c.info(embed).dtype() : DType.BF16;
    }

    /** The spec a config describes for a family whose layout is already resolved. */
    static ModelSpec build(Family f, ObjectNode cfg, String where, TensorFacts facts) {
        ConfigReader c = new ConfigReader(f, cfg, where);
        int layers = c.integer("layers", "positive", 1);
        int hidden = c.integer("hidden", "positive", 1);
        int heads = c.integer("heads", "positive", 1);
        int kvHeads = c.integer("kv_heads", heads, "positive", 1);
        int vocab = c.integer("vocab", "positive", 1);
        ModelSpec.Mla mla = null;
        int headDim;
        if (f.traits().attention() == Family.Attention.MLA) {
            mla = new ModelSpec.Mla(c.integer("q_lora_rank", 0, "0 or more", 0), c.integer("kv_lora_rank", "positive", 1),
                    c.integer("qk_nope_head_dim", "0 or more", 0), c.integer("qk_rope_head_dim", "positive", 1),
                    c.integer("v_head_dim", "positive", 1));
            long qk = (long) mla.qkNopeHeadDim() + mla.qkRopeHeadDim();
            if (qk > Integer.MAX_VALUE) {
                throw new CheckpointException(where + ": " + c.keyOf("qk_nope_head_dim") + " " + mla.qkNopeHeadDim() + " + "
                        + c.keyOf("qk_rope_head_dim") + " " + mla.qkRopeHeadDim() + " overflows 32 bits");
            }
            headDim = (int) qk;
        } else {
            int explicit = c.integer("head_dim", 0, "positive", 1);
            if (explicit == 0 && hidden % heads != 0) {
                throw new CheckpointException(where + ": no head_dim and hidden_size " + hidden + " is not a multiple of "
                        + c.keyOf("heads") + " " + heads);
            }
            headDim = explicit > 0 ? explicit : hidden / heads;
        }
        if (heads % kvHeads != 0) {
            throw new CheckpointException(where + ": " + c.keyOf("heads") + " " + heads + " is not a multiple of "
                    + c.keyOf("kv_heads") + " " + kvHeads);
        }
        double eps = c.positiveNumber("norm_eps", 1e-6);
        double theta = c.positiveNumber("rope_theta", 10000.0);
        if (f.has(Role.ATTN_ROUTER)) {      // BAM: checked here so ModelSpec can read them plainly
            int a = c.integer("attention_experts", "within 1..4096", 1);
            if (a > 4096) {
                throw new CheckpointException(where + ": key '" + c.keyOf("attention_experts") + "' = " + a + " is not within 1..4096");
            }
            c.bool("shared_kv", false);
            c.bool("parallel_attention", false);
        }
        c.bool("tie_embeddings", false); // not used (lm_head's presence decides), but a non-boolean is a broken config
        Set<Role> present = facts.present();
        Routing routing = f.traits().moe() ? routing(c, present.contains(Role.ROUTER_CORRECTION_BIAS)) : null;
        List<LayerSpec> specs = layerSpecs(f, c, layers, present.contains(Role.SHARED_EXPERT_GATE), routing == null ? 1 : routing.groups());
        DType dtype = facts.dtype();
        String dt = c.text("dtype");
        if (dt != null) {
            try {
                dtype = DType.parseUser(dt);
            } catch (IllegalArgumentException e) {
                throw new CheckpointException(where + ": key '" + c.keyOf("dtype") + "' names unknown dtype " + Text.quote(dt));
            }
        }
        ModelSpec spec = new ModelSpec(f, layers, hidden, heads, kvHeads, headDim, vocab, eps, theta, slidingWindow(c), !present.contains(Role.LM_HEAD),
                present.contains(Role.Q_BIAS), present.contains(Role.Q_NORM), facts.fused(), routing, specs, dtype, cfg, mla, present);
        CompressedExperts.check(spec, c);
        return spec;
    }

    /** Full attention (0) when sliding is switched off or no layer type is sliding; else the window. */
    private static int slidingWindow(ConfigReader c) {
        if (!c.bool("use_sliding_window", true)) {
            return 0;
        }
        JsonNode types = c.knows("layer_types") ? c.value("layer_types") : null;
        if (types != null) {
            if (!types.isArray()) {
                throw new CheckpointException(c.where() + ": key '" + c.keyOf("layer_types") + "' should be a list of strings, is "
                        + ConfigReader.show(types));
            }
            boolean anySliding = false;
            for (JsonNode t : types) {
                if (!t.isTextual()) {
                    throw new CheckpointException(c.where() + ": key '" + c.keyOf("layer_types") + "' should list strings, has "
                            + ConfigReader.show(t));
                }
                anySliding |= t.asText().contains("sliding");
            }
            if (!anySliding) {
                return 0;
            }
        }
        return c.integer("sliding_window", 0, "0 or more", 0);
    }

    private static Routing routing(ConfigReader c, boolean correctionBias) {
        String s = c.text("scoring");
        Routing.Scoring scoring;
        try {
            scoring = Routing.Scoring.valueOf((s == null ? "softmax" : s).toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(c.where() + ": key '" + c.keyOf("scoring") + "' names unknown scoring " + Text.quote(s));
        }
        int groups = Math.max(1, c.integer("groups", 1, "0 or more", 0));
        int topkGroups = Math.max(1, c.integer("topk_groups", groups, "0 or more", 0));
        if (topkGroups > groups) {
            throw new CheckpointException(c.where() + ": " + c.keyOf("topk_groups") + " " + topkGroups + " exceeds "
                    + c.keyOf("groups") + " " + groups);
        }
        return new Routing(scoring, c.bool("renormalize", false), c.positiveNumber("scaling", 1.0), correctionBias, groups, topkGroups);
    }

    private static List<LayerSpec> layerSpecs(Family f, ConfigReader c, int layers, boolean sharedGate, int routingGroups) {
        List<LayerSpec> out = new ArrayList<>(layers);
        if (!f.traits().moe()) {
            int ffn = c.integer("ffn", "positive", 1);
            for (int l = 0; l < layers; l++) {
                out.add(LayerSpec.dense(l, ffn));
            }
            return out;
        }
        int[] experts = c.perLayer("num_experts", layers, "0 or more", 0);
        int[] topK = c.perLayer("top_k", layers);
        int[] expertFfn = c.perLayer("expert_ffn", layers, "positive", 1);
        int step = Math.max(1, c.integer("sparse_step", 1, "0 or more", 0));
        int firstDense = c.integer("first_dense", 0, "0 or more", 0);
        int freq = Math.max(1, c.integer("moe_layer_freq", 1, "0 or more", 0));
        int shared = c.integer("shared_experts", 0, "0 or more", 0);
        int sharedFfnKey = c.knows("shared_ffn") ? c.integer("shared_ffn", 0, "0 or more", 0) : -1;
        Set<Integer> mlpOnly = new HashSet<>(c.intList("mlp_only_layers"));
        for (int l = 0; l < layers; l++) {
            boolean moe = experts[l] > 0 && !mlpOnly.contains(l) && (l + 1) % step == 0 && l >= firstDense && l % freq == 0;
            if (!moe) {
                if (!c.knows("ffn")) {
                    throw new CheckpointException(c.where() + ": layer " + l + " is dense but family " + f.name() + " has no dense MLP");
                }
                out.add(LayerSpec.dense(l, c.integer("ffn", "positive", 1)));
                continue;
            }
            if (topK[l] <= 0 || topK[l] > experts[l]) {
                throw new CheckpointException(c.where() + ": key '" + c.keyOf("top_k") + "' = " + topK[l] + " is not within 1.."
                        + experts[l] + " experts of layer " + l);
            }
            if (routingGroups > experts[l]) {
                throw new CheckpointException(c.where() + ": key '" + c.keyOf("groups") + "' = " + routingGroups + " groups exceed the "
                        + experts[l] + " experts of layer " + l);
            }
            long sharedFfn = sharedFfnKey >= 0 ? sharedFfnKey : (long) shared * expertFfn[l];
            if (sharedFfn > Integer.MAX_VALUE) {
                throw new CheckpointException(c.where() + ": key '" + c.keyOf("shared_experts") + "' = " + shared + " shared experts of width "
                        + expertFfn[l] + " overflow 32 bits");
            }
            int layerShared = sharedFfn == 0 ? 0 : shared;
            out.add(new LayerSpec(l, true, experts[l], topK[l], expertFfn[l], layerShared, (int) sharedFfn, layerShared > 0 && sharedGate, 0));
        }
        return out;
    }
}
