package dev.moekit.eval.runtime;

import ai.djl.ndarray.NDArray;
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
 * Weights are finally multiplied by {@code routed_scaling_factor}.
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
        NDArray logits = Ops.linear(x, w.get(Role.ROUTER), w.get(Role.ROUTER_BIAS)).toType(DataType.FLOAT32, false);
        return switch (routing.scoring()) {
            case SOFTMAX -> softmax(routing, logits, k);
            case SIGMOID -> sigmoid(routing, w, logits, k);
            case SPARSEMIXER -> throw new CheckpointException(
                    "sparsemixer routing (Phi-3.5-MoE) is not supported by the eval runtime yet");
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

    private static NDArray scale(Routing routing, NDArray weights) {
        return routing.scalingFactor() == 1.0 ? weights : weights.mul(routing.scalingFactor());
    }
}
