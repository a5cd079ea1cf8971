package dev.moekit.toolkit.model;

import dev.moekit.toolkit.io.DType;
import java.util.EnumSet;
import java.util.Set;

/**
 * What a checkpoint's tensors say about its structure beyond the config: the expert layout, which optional roles
 * are present, and the dtype to assume when the config names none.
 *
 * @param fused   routed experts stored as fused 3-D tensors
 * @param present optional roles present (lm_head: untied; q/k/v biases; q/k norms; shared-expert gate; ...)
 * @param dtype   the tensors' floating dtype
 */
public record TensorFacts(boolean fused, Set<Role> present, DType dtype) {
    public TensorFacts {
        present = present.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(present));
        if (dtype == null) {
            throw new IllegalArgumentException("tensor facts need a dtype");
        }
    }
}
