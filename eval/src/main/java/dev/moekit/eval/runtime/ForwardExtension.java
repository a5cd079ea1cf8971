package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;

/**
 * Computation a method adds to every family's forward (compressed experts, attention experts...), reading the named
 * parameters it registered with {@link CausalLm#addParameter} ({@link LayerWeights#extra}, {@link CausalLm#extra}).
 * The hooks run on the forward's thread with its grad mode, so those parameters train like the model's own
 * ({@link ParamGroup#NEW}). Results must be created from the activations (first operand) so they stay in the step's
 * scope, and numbers must enter as arrays of that scope ({@code x.mul(x.getManager().create(v))}), not through
 * {@code mul(Number)}: DJL frees that scalar's buffer at once while autograd still needs it for backward.
 * {@link #NONE} changes nothing; evaluation runs with it unless a method installs another.
 */
public interface ForwardExtension {
    /** No extra computation. */
    ForwardExtension NONE = new ForwardExtension() {};

    /**
     * The attention output of layer {@code w.layer()}: {@code x} the normed input {@code [B, T, hidden]}, {@code out}
     * the attention output {@code [B, T, hidden]} before the residual add; returns the output to use.
     */
    default NDArray attention(LayerWeights w, NDArray x, NDArray out) {
        return out;
    }

    /**
     * The MLP or MoE output of layer {@code w.layer()} before the residual add: {@code x} the normed input
     * {@code [N, hidden]}, {@code routing} the router's decision (null for dense layers), {@code out} {@code [N, hidden]}
     * (routed and shared experts summed); returns the output to use.
     */
    default NDArray feedForward(LayerWeights w, NDArray x, ForwardObserver.RouterOutput routing, NDArray out) {
        return out;
    }
}
