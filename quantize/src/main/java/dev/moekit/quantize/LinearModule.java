package dev.moekit.quantize;

import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.select.Selector;

/**
 * One linear weight the quantizer may touch: a 2-D tensor {@code [rows, cols] = [out, in]}, or one expert's slice of
 * a fused 3-D expert tensor ({@code slice >= 0}).
 *
 * @param module module name (the HF module path; the tensor name without its parameter suffix, or the fused tensor
 *               name plus {@code .<expert>} for a slice)
 * @param tensor tensor name in the checkpoint
 * @param role   the tensor's role
 * @param layer  decoder layer, -1 for model-level tensors
 * @param expert routed expert index, -1 otherwise
 * @param rows   output channels
 * @param cols   input channels
 * @param slice  index in the fused tensor's first dimension, -1 for an ordinary 2-D tensor
 */
public record LinearModule(String module, String tensor, Role role, int layer, int expert, int rows, int cols, int slice) {
    /** The HF parameter suffix of a linear module's weight. */
    public static final String WEIGHT = ".weight";

    public LinearModule {
        if (rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("linear module " + module + " has shape [" + rows + ", " + cols + "]");
        }
    }

    public long params() {
        return (long) rows * cols;
    }

    public boolean fused() {
        return slice >= 0;
    }

    Selector.Candidate candidate() {
        return new Selector.Candidate(module, tensor, role);
    }

    /** Module name of a weight tensor: the name without a trailing {@code .weight}. */
    public static String moduleOf(String tensor) {
        return tensor.endsWith(WEIGHT) ? tensor.substring(0, tensor.length() - WEIGHT.length()) : tensor;
    }
}
