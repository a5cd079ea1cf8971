package dev.moekit.prune.stats;

/**
 * Calibration inputs of one MoE block for NAEE's reconstruction search.
 *
 * @param layer   decoder layer index
 * @param hidden  hidden size d
 * @param inputs  [tokens, d] inputs X of the MoE block (after the post-attention norm)
 * @param outputs [tokens, d] routed-expert output Z of the <em>original</em> block on the same tokens (shared experts
 *                excluded: they do not depend on the mask and cancel in Z - Z'); null to recompute it from the
 *                original weights (layer-wise NAEE). The progressive variant passes Z from the unpruned model with X
 *                from the pruned one.
 */
public record MoeBlockSamples(int layer, int hidden, float[] inputs, float[] outputs) {
    public MoeBlockSamples {
        if (hidden < 1 || inputs.length % hidden != 0) {
            throw new IllegalArgumentException("layer " + layer + ": " + inputs.length + " input values do not split into rows of " + hidden);
        }
        if (outputs != null && outputs.length != inputs.length) {
            throw new IllegalArgumentException("layer " + layer + ": outputs have " + outputs.length + " values, inputs " + inputs.length);
        }
    }

    public int tokens() {
        return inputs.length / hidden;
    }
}
