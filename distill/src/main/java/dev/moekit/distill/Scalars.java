package dev.moekit.distill;

import ai.djl.ndarray.NDArray;

/**
 * Multiplication and division by a number on a differentiable path. DJL's {@code mul(Number)} closes its scalar
 * array at once, and on CPU closing frees the Java buffer the tensor wraps, while autograd keeps the scalar for
 * backward: a GC between forward and backward would hand backward freed memory (seen as rare non-finite gradients).
 * Here the scalar lives in the operand's manager, the step's scope, until after backward.
 */
final class Scalars {
    private Scalars() {}

    static NDArray times(NDArray x, float v) {
        return x.mul(x.getManager().create(v));
    }

    static NDArray over(NDArray x, float v) {
        return x.div(x.getManager().create(v));
    }
}
