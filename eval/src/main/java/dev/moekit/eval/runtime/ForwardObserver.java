package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import dev.moekit.toolkit.model.Role;
import java.util.Set;

/**
 * Hooks into a forward pass, for calibration (pruning scores, GPTQ Hessians) and routing statistics. Token arrays are
 * flattened over the batch: {@code N = B * T} rows, padding rows included; {@link #tokenMask} says which rows are real.
 * Arrays passed in are closed when the layer step ends: accumulate into arrays you own (in-place ops such as
 * {@code acc.addi(x.transpose().matMul(x))}) or copy to Java. All methods default to doing nothing.
 */
public interface ForwardObserver {
    /** An observer that observes nothing. */
    ForwardObserver NONE = new ForwardObserver() {};

    /** Whether the given layer is observed at all (others skip every hook). */
    default boolean observes(int layer) {
        return true;
    }

    /**
     * Linear layers whose inputs {@link #linearInput} receives: {@link Role#Q}/{@link Role#K}/{@link Role#V} (the
     * normed hidden states), {@link Role#O}, {@link Role#MLP_GATE}/{@code MLP_UP}/{@code MLP_DOWN},
     * {@link Role#ROUTER}, {@link Role#EXPERT_GATE}/{@code EXPERT_UP}/{@code EXPERT_DOWN} (per expert, only its
     * routed tokens), {@link Role#SHARED_GATE}/{@code SHARED_UP}/{@code SHARED_DOWN}.
     */
    default Set<Role> linearInputs() {
        return Set.of();
    }

    /**
     * Route every token through every expert for the expert hooks (so rarely chosen experts get statistics); the
     * layer output still uses the real routing.
     */
    default boolean allExperts() {
        return false;
    }

    /** Which of the {@code N} rows are real tokens: {@code [N]} boolean, before the layer hooks of a step. */
    default void tokenMask(NDArray mask) {}

    /** The hidden states entering decoder layer {@code layer}: {@code [N, hidden]}. */
    default void layerInput(int layer, NDArray hidden) {}

    /** The router of an MoE layer: see {@link RouterOutput}. */
    default void router(int layer, RouterOutput routing) {}

    /**
     * One routed expert: {@code tokens [n]} row indices into the {@code N} flattened tokens, its input
     * {@code [n, hidden]} and output {@code [n, hidden]} (before the gate weight). With {@link #allExperts()} the
     * rows are all {@code N} tokens.
     */
    default void expert(int layer, int expert, NDArray tokens, NDArray input, NDArray output) {}

    /** The input of a linear layer named in {@link #linearInputs()}: {@code [n, in]}; {@code expert} is -1 if none. */
    default void linearInput(int layer, Role role, int expert, NDArray input) {}

    /** The hidden states leaving decoder layer {@code layer}: {@code [N, hidden]}. */
    default void layerOutput(int layer, NDArray hidden) {}

    /** Router decisions of one MoE layer over {@code N} tokens. */
    record RouterOutput(NDArray logits, NDArray scores, NDArray topIndices, NDArray topWeights) {
        // logits [N, E] fp32 as the gate computes them; scores [N, E] fp32 after softmax/sigmoid;
        // topIndices [N, k] int64 chosen experts; topWeights [N, k] fp32 gate weights applied to expert outputs
    }
}
