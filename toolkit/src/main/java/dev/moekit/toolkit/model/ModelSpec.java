package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.DType;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The parsed structure of a checkpoint: its family description plus the numbers from {@code config.json} (either
 * transformers dialect), checked against the tensors present. Tensor names come only from {@link #name} methods,
 * which fill the family's templates.
 *
 * @param family          the family description
 * @param layers          decoder layers
 * @param hidden          hidden size
 * @param heads           attention (query) heads
 * @param kvHeads         key/value heads (GQA)
 * @param headDim         width of one head (explicit {@code head_dim} or hidden/heads)
 * @param vocab           vocabulary size
 * @param normEps         RMSNorm/LayerNorm epsilon
 * @param ropeTheta       RoPE base
 * @param slidingWindow   attention window in tokens, 0 for full attention
 * @param tiedEmbeddings  whether lm_head reuses the embedding (no LM_HEAD tensor)
 * @param qkvBias         whether q/k/v projections have biases
 * @param qkNorm          whether q and k are RMS-normalised per head (Qwen3-MoE, OLMoE)
 * @param fusedExperts    whether routed experts are stored as 3-D fused tensors
 * @param routing         the router's scoring and gate normalisation
 * @param layerSpecs      per-layer structure (MoE or dense, experts, top-k, widths)
 * @param dtype           the checkpoint's floating dtype (from the config, else the tensors)
 * @param config          the raw config, for keys the spec does not model
 * @param mla             DeepSeek-V2/V3 multi-head latent attention sizes, null for standard attention (then
 *                        {@code headDim} is {@code qk_nope_head_dim + qk_rope_head_dim})
 * @param present         the family's optional roles whose tensors the checkpoint holds (lm_head, biases, q/k norms,
 *                        shared-expert gate, correction bias)
 */
public record ModelSpec(Family family, int layers, int hidden, int heads, int kvHeads, int headDim, int vocab,
                        double normEps, double ropeTheta, int slidingWindow, boolean tiedEmbeddings, boolean qkvBias,
                        boolean qkNorm, boolean fusedExperts, Routing routing, List<LayerSpec> layerSpecs, DType dtype,
                        ObjectNode config, Mla mla, Set<Role> present) {
    public ModelSpec {
        layerSpecs = List.copyOf(layerSpecs);
        present = present.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(present));
        if (layerSpecs.size() != layers) {
            throw new IllegalArgumentException("model spec has " + layers + " layers but " + layerSpecs.size() + " layer specs");
        }
    }

    /** A spec of standard attention whose optional roles follow from the flags (lm_head present unless tied). */
    public ModelSpec(Family family, int layers, int hidden, int heads, int kvHeads, int headDim, int vocab,
                     double normEps, double ropeTheta, int slidingWindow, boolean tiedEmbeddings, boolean qkvBias,
                     boolean qkNorm, boolean fusedExperts, Routing routing, List<LayerSpec> layerSpecs, DType dtype,
                     ObjectNode config) {
        this(family, layers, hidden, heads, kvHeads, headDim, vocab, normEps, ropeTheta, slidingWindow, tiedEmbeddings,
                qkvBias, qkNorm, fusedExperts, routing, layerSpecs, dtype, config, null,
                presentFromFlags(family, tiedEmbeddings, qkvBias, qkNorm, layerSpecs, routing));
    }

    private static Set<Role> presentFromFlags(Family f, boolean tied, boolean qkvBias, boolean qkNorm,
                                              List<LayerSpec> layers, Routing routing) {
        Set<Role> s = EnumSet.noneOf(Role.class);
        if (!tied) {
            s.add(Role.LM_HEAD);
        }
        if (qkvBias) {
            s.addAll(List.of(Role.Q_BIAS, Role.K_BIAS, Role.V_BIAS));
        }
        if (qkNorm) {
            s.addAll(List.of(Role.Q_NORM, Role.K_NORM));
        }
        if (layers.stream().anyMatch(LayerSpec::sharedExpertGate)) {
            s.add(Role.SHARED_EXPERT_GATE);
        }
        if (routing != null && routing.correctionBias()) {
            s.add(Role.ROUTER_CORRECTION_BIAS);
        }
        s.retainAll(f.optional());
        return s;
    }

    /**
     * Sizes of DeepSeek-V2/V3 multi-head latent attention.
     *
     * @param qLoraRank     rank of the query down-projection, 0 when queries use a plain {@code q_proj}
     * @param kvLoraRank    rank of the compressed key/value latent
     * @param qkNopeHeadDim per-head query/key width without rotary embedding
     * @param qkRopeHeadDim per-head query/key width with rotary embedding (the key part is shared by all heads)
     * @param vHeadDim      per-head value width
     */
    public record Mla(int qLoraRank, int kvLoraRank, int qkNopeHeadDim, int qkRopeHeadDim, int vHeadDim) {
        public Mla {
            if (qLoraRank < 0 || kvLoraRank <= 0 || qkNopeHeadDim < 0 || qkRopeHeadDim <= 0 || vHeadDim <= 0) {
                throw new IllegalArgumentException("bad MLA sizes q_lora_rank=" + qLoraRank + " kv_lora_rank=" + kvLoraRank
                        + " qk_nope_head_dim=" + qkNopeHeadDim + " qk_rope_head_dim=" + qkRopeHeadDim + " v_head_dim=" + vHeadDim);
            }
        }

        public int qkHeadDim() {
            return qkNopeHeadDim + qkRopeHeadDim;
        }
    }

    /**
     * Builds a spec from a config alone, given the storage facts a checkpoint's tensors would otherwise supply (used to
     * plan new checkpoints, e.g. by test fixtures and upcycling). Nothing is checked against tensors.
     */
    public static ModelSpec fromConfig(ObjectNode config, TensorFacts facts) {
        Family f = FamilyRegistry.standard().find(config, "config.json");
        return ModelSpecParser.build(f.withLayout(facts.fused()), config, "config.json", facts);
    }

    /** BAM's attention experts per layer (family moekit_bam; checked when the spec was built), 0 for every other family. */
    public int attentionExperts() {
        return family.has(Role.ATTN_ROUTER) ? configValue("attention_experts").asInt(0) : 0;
    }

    /** BAM with shared K/V: per-expert q and o, the layer's K and V shared by every attention expert. */
    public boolean sharedKv() {
        return attentionExperts() > 0 && configValue("shared_kv").asBoolean(false);
    }

    /** Parallel attention block: attention and MLP both read the layer's input (BAM option); false elsewhere. */
    public boolean parallelAttention() {
        return family.configKeys().containsKey("parallel_attention") && configValue("parallel_attention").asBoolean(false);
    }

    private com.fasterxml.jackson.databind.JsonNode configValue(String logical) {
        for (String k : family.configKeys().getOrDefault(logical, List.of())) {
            if (config.has(k)) {
                return config.get(k);
            }
        }
        com.fasterxml.jackson.databind.JsonNode d = family.defaults().get(logical);
        return d == null ? com.fasterxml.jackson.databind.node.MissingNode.getInstance() : d;
    }

    /** Whether the checkpoint holds the optional {@code role}, or the role is a non-optional one of the family. */
    public boolean holds(Role role) {
        return family.has(role) && (!family.isOptional(role) || present.contains(role));
    }

    /** The family's normalisation kind (RMSNorm, or LayerNorm with bias). */
    public Family.Norm norm() {
        return family.traits().norm();
    }

    /**
     * Parses and checks the structure of {@code checkpoint}: picks the family by {@code architectures[0]} then
     * {@code model_type}, reads the config (4.x or 5.x dialect, key synonyms), and checks it against the tensors.
     */
    public static ModelSpec of(dev.moekit.toolkit.io.Checkpoint checkpoint) {
        return ModelSpecParser.parse(checkpoint);
    }

    public LayerSpec layer(int i) {
        return layerSpecs.get(i);
    }

    /** True if any layer is a mixture of experts. */
    public boolean isMoe() {
        return layerSpecs.stream().anyMatch(LayerSpec::moe);
    }

    /** Name of a model-level tensor (embedding, final norm, lm_head). */
    public String name(Role role) {
        return family.name(role, -1, -1);
    }

    /** Name of a per-layer tensor. */
    public String name(Role role, int layer) {
        return family.name(role, layer, -1);
    }

    /** Name of a per-expert tensor. */
    public String name(Role role, int layer, int expert) {
        return family.name(role, layer, expert);
    }
}
