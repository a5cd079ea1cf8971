package dev.moekit.toolkit.model;

/**
 * The structure of one decoder layer.
 *
 * @param index             layer number
 * @param moe               whether the MLP is a mixture of experts (false: a dense MLP of {@code ffn} width)
 * @param experts           routed experts (0 for dense layers)
 * @param topK              experts chosen per token
 * @param expertFfn         intermediate width of each routed expert
 * @param sharedExperts     number of shared experts fused in the shared-expert tensors (0 if none)
 * @param sharedFfn         intermediate width of the shared-expert MLP (all shared experts together)
 * @param sharedExpertGate  whether the shared expert output is scaled by sigmoid(gate(x)) (Qwen2-MoE)
 * @param ffn               intermediate width of the dense MLP (dense layers only)
 */
public record LayerSpec(int index, boolean moe, int experts, int topK, int expertFfn, int sharedExperts, int sharedFfn,
                        boolean sharedExpertGate, int ffn) {
    public static LayerSpec dense(int index, int ffn) {
        return new LayerSpec(index, false, 0, 0, 0, 0, 0, false, ffn);
    }
}
