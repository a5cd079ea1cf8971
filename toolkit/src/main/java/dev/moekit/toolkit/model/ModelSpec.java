package dev.moekit.toolkit.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moekit.toolkit.io.DType;
import java.util.List;

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
 */
public record ModelSpec(Family family, int layers, int hidden, int heads, int kvHeads, int headDim, int vocab,
                        double normEps, double ropeTheta, int slidingWindow, boolean tiedEmbeddings, boolean qkvBias,
                        boolean qkNorm, boolean fusedExperts, Routing routing, List<LayerSpec> layerSpecs, DType dtype,
                        ObjectNode config) {
    public ModelSpec {
        layerSpecs = List.copyOf(layerSpecs);
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
