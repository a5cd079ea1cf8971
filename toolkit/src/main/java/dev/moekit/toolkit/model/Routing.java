package dev.moekit.toolkit.model;

/**
 * How a family's router turns logits into expert choices and gate weights.
 *
 * @param scoring          softmax over all experts (Mixtral, Qwen, OLMoE, DeepSeek v1), sigmoid (DeepSeek-V3), or
 *                         Phi-3.5-MoE's sparsemixer
 * @param renormalize      whether the top-k gate weights are divided by their sum (Mixtral yes; Qwen2-MoE and OLMoE
 *                         follow {@code norm_topk_prob})
 * @param scalingFactor    multiplier on routed outputs ({@code routed_scaling_factor}, 1 when absent)
 * @param correctionBias   whether a per-expert bias is added to scores for selection only (DeepSeek-V3)
 * @param groups           expert groups for group-limited selection ({@code n_group}, 1 when absent)
 * @param topkGroups       groups kept per token ({@code topk_group})
 */
public record Routing(Scoring scoring, boolean renormalize, double scalingFactor, boolean correctionBias, int groups,
                      int topkGroups) {
    public enum Scoring { SOFTMAX, SIGMOID, SPARSEMIXER }

    public static Routing softmax(boolean renormalize) {
        return new Routing(Scoring.SOFTMAX, renormalize, 1.0, false, 1, 1);
    }
}
