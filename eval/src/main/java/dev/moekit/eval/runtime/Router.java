package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Activation;
import dev.moekit.toolkit.io.CheckpointException;
import dev.moekit.toolkit.model.Role;
import dev.moekit.toolkit.model.Routing;

/**
 * Router scoring and top-k selection, in fp32.
 * <ul>
 *   <li>softmax (Mixtral, Qwen2/3-MoE, OLMoE, DeepSeek-MoE): {@code p = softmax(logits)}, top-k of p, weights
 *       {@code p_topk} divided by their sum when {@code renormalize} (Mixtral; Qwen/OLMoE per
 *       {@code norm_topk_prob}).</li>
 *   <li>sigmoid (DeepSeek-V3 style): {@code s = sigmoid(logits)}, top-k of {@code s + correction_bias} (the bias
 *       only selects), weights {@code s_topk}, renormalised by {@code sum + 1e-20}. Group-limited selection is
 *       refused.</li>
 * </ul>
 * and Phi-3.5-MoE's sparsemixer ({@link #sparsemixer}). Weights are finally multiplied by
 * {@code routed_scaling_factor}.
 */
final class Router {
    private Router() {}

    /**
     * @param logits  {@code [N, E]} fp32 gate logits
     * @param scores  {@code [N, E]} fp32 softmax/sigmoid scores
     * @param indices {@code [N, k]} int64 chosen experts, best first
     * @param weights {@code [N, k]} fp32 gate weights
     */
    record Decision(NDArray logits, NDArray scores, NDArray indices, NDArray weights) {}

    static Decision route(Routing routing, LayerWeights w, NDArray x, int k) {
        NDArray logits = Ops.cast(Ops.linear(x, w.get(Role.ROUTER), w.get(Role.ROUTER_BIAS)), DataType.FLOAT32);
        return switch (routing.scoring()) {
            case SOFTMAX -> softmax(routing, logits, k);
            case SIGMOID -> sigmoid(routing, w, logits, k);
            case SPARSEMIXER -> sparsemixer(logits, k, w.jitterEps());
        };
    }

    private static Decision softmax(Routing routing, NDArray logits, int k) {
        NDArray scores = logits.softmax(-1);                                      // [N, E]
        NDList top = scores.topK(k, -1, true, true);
        NDArray weights = top.get(0);                                             // [N, k]
        if (routing.renormalize()) {
            weights = weights.div(weights.sum(new int[] {-1}, true));
        }
        return new Decision(logits, scores, top.get(1), scale(routing, weights));
    }

    private static Decision sigmoid(Routing routing, LayerWeights w, NDArray logits, int k) {
        if (routing.groups() > 1) {
            throw new CheckpointException("group-limited routing (n_group " + routing.groups()
                    + ") is not supported by the eval runtime yet");
        }
        NDArray scores = Activation.sigmoid(logits);                              // [N, E]
        NDArray bias = w.get(Role.ROUTER_CORRECTION_BIAS);
        NDArray choice = bias == null ? scores : scores.add(bias);
        NDArray indices = choice.topK(k, -1, true, true).get(1);                  // [N, k]
        NDArray weights = scores.gather(indices, -1);                             // [N, k]
        if (routing.renormalize()) {
            weights = weights.div(weights.sum(new int[] {-1}, true).add(1e-20f));
        }
        return new Decision(logits, scores, indices, scale(routing, weights));
    }

    /**
     * Phi-3.5-MoE's sparsemixer at inference (Liu et al. 2024, transformers' {@code sparsemixer}): for each of the k
     * picks, take the best remaining expert {@code m} with logit {@code s_m}; mask every expert whose relative gap
     * {@code (s_m - s_j) / max(|s_j|, s_m)} exceeds {@code 2 eps} ({@code eps = router_jitter_noise}); its gate is
     * the softmax of the unmasked remaining logits at {@code m}; then remove {@code m} and repeat. Gates are not
     * renormalised.
     */
    static Decision sparsemixer(NDArray logits, int k, double eps) {
        NDArray magnitude = logits.abs();                                         // [N, E]
        NDArray minusInf = logits.getManager().full(logits.getShape(), Float.NEGATIVE_INFINITY);
        NDArray remaining = logits;
        NDList picks = new NDList(k);
        NDList gates = new NDList(k);
        for (int i = 0; i < k; i++) {
            NDList best = remaining.topK(1, -1, true, true);
            NDArray top = best.get(0);                                            // [N, 1]
            NDArray pick = best.get(1);                                           // [N, 1]
            NDArray far = top.sub(logits).div(magnitude.maximum(top)).gt(2 * eps);
            NDArray probs = NDArrays.where(far, minusInf, remaining).softmax(-1);
            gates.add(probs.gather(pick, -1));
            picks.add(pick);
            remaining = NDArrays.where(pick.oneHot((int) logits.getShape().get(1)).squeeze(1).gt(0), minusInf,
                    remaining);
        }
        return new Decision(logits, logits.softmax(-1), NDArrays.concat(picks, 1), NDArrays.concat(gates, 1));
    }

    private static NDArray scale(Routing routing, NDArray weights) {
        return routing.scalingFactor() == 1.0 ? weights : Ops.times(weights, routing.scalingFactor());
    }
}
